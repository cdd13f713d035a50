/**
 * The Lua script is a port of AdmissionController.decide: fed the same arrivals at the same times (the
 * script's `decideAt` replaces Redis's TIME), it must give the same answers, keyed and keyless, through
 * bursts, refusals, the horizon and key pacing — against a real redis-server, with each arrival sent to one
 * of three clients (nodes) at random: one schedule, a key's slots global, whichever node is asked.
 */
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdmissionController, type AdmissionOptions } from "../../src/server/index.js";
import { redisAdmission } from "../../src/server/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

let server: RedisServer;
/** Three clients, as three nodes would hold. */
let nodes: Redis[];
beforeAll(async () => {
  server = await startRedis();
  nodes = [0, 1, 2].map(() => new Redis(server.port, "127.0.0.1", { maxRetriesPerRequest: 1 }));
});
afterAll(async () => {
  for (const redis of nodes) redis.disconnect();
  await server.stop();
});

const arrival = fc.record({
  gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 5_000 })),
  key: fc.constantFrom(undefined, "alice", "bob"),
  node: fc.constantFrom(0, 1, 2),
});

let run = 0;

/** Feeds the same arrivals to one controller and to the script (three nodes), answer by answer. */
async function compare(
  options: AdmissionOptions,
  arrivals: readonly { gapMs: number; key: string | undefined; node: number }[],
): Promise<void> {
  let now = 1_765_000_000_000 + run * 10_000_000;
  const memory = new AdmissionController(options, now);
  const prefix = `eq${run++}:`;
  const shared = nodes.map((redis) =>
    // A generous timeout: a decision made locally (Redis slow under a loaded machine) is not the
    // script's, and would fail the comparison for the wrong reason.
    redisAdmission({
      ...options,
      redis,
      prefix,
      nodes: 3,
      decideAt: () => now,
      commandTimeoutMs: 10_000,
    }),
  );
  for (const { gapMs, key, node } of arrivals) {
    now += gapMs;
    const expected = memory.decide(now, key);
    const { slotAtMs: _slot, ...actual } = await (shared[node] as (typeof shared)[0]).decide(key);
    expect(actual).toEqual(expected);
  }
  expect(shared.map((schedule) => schedule.stats.local)).toEqual([0, 0, 0]);
}

describe("the shared schedule's script", () => {
  it("answers arrivals spread over three nodes exactly as one AdmissionController does at the same times", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ratePerSecond: fc.constantFrom(2, 10, 100),
          burst: fc.constantFrom(undefined, 1, 3),
          spreadMs: fc.constantFrom(undefined, 0, 700),
          refusalCost: fc.constantFrom(undefined, 0, 1),
          maxBookAheadMs: fc.constantFrom(undefined, 2_000),
          // A ceiling under the window cuts it (the herd's arrivals alone outrun the rate: the anchored wave).
          maxHintMs: fc.constantFrom(undefined, undefined, 700, 3_000, 20_000, 25_000.5),
          budgetWindowMs: fc.constantFrom(undefined, undefined, 1_000, 30_000, 1_000.5),
          // A fraction of a client, and one whose N × 1000 overflows to Infinity: still the same answers.
          budgetPopulation: fc.constantFrom(undefined, 10, 100_000, 0.5, 1e306),
        }),
        fc.array(arrival, { minLength: 1, maxLength: 60 }),
        async (picked, arrivals) => {
          const options = Object.fromEntries(
            Object.entries(picked).filter(
              // A population only goes with a window (alone it is refused).
              ([name, value]) =>
                value !== undefined && (name !== "budgetPopulation" || picked.budgetWindowMs !== undefined),
            ),
          ) as unknown as AdmissionOptions;
          await compare(options, arrivals);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("keeps a wave that began before the server caught up until the herd has passed, as the controller does", async () => {
    // N 100 over a window cut to 3 s outruns 10/s: the wave anchored at the first decision (t 0) is idle
    // again at 2.5 s (bucket full, book empty) but still runs, so the refusal there — past the herd's evidence,
    // 1 % of N refused since the wave began — is booked at its end.
    const options = {
      ratePerSecond: 10,
      burst: 1,
      refusalCost: 1,
      budgetWindowMs: 30_000,
      budgetPopulation: 100,
      maxHintMs: 3_000,
    };
    await compare(options, [
      { gapMs: 0, key: undefined, node: 0 },
      { gapMs: 0, key: undefined, node: 1 },
      { gapMs: 2_500, key: undefined, node: 2 },
      { gapMs: 0, key: undefined, node: 0 },
      { gapMs: 10_000, key: undefined, node: 1 },
      { gapMs: 0, key: undefined, node: 2 },
      { gapMs: 0, key: undefined, node: 0 },
    ]);
  });
});
