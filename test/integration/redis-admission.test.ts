/**
 * The shared admission schedule on a real redis-server at Redis's own clock: three nodes (three clients)
 * together admit the configured rate, refusals from every node get slots in one order, one round trip per
 * decision; and when Redis is killed or paused a node decides alone at its share of the rate, then returns
 * to the shared schedule when Redis answers again.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AdmissionController } from "../../src/server/index.js";
import { type RedisAdmission, redisAdmission } from "../../src/server/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

let server: RedisServer;
const clients: Redis[] = [];
let run = 0;

beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  server.resume();
  await server.start();
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server.stop();
});

/** A node's client, as the docs recommend it: a command fails at once while Redis is unreachable. */
function client(): Redis {
  const redis = new Redis(server.port, "127.0.0.1", {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
  });
  redis.on("error", () => {});
  clients.push(redis);
  return redis;
}

async function ready(redis: Redis): Promise<void> {
  for (let i = 0; i < 200 && redis.status !== "ready"; i++) await new Promise((r) => setTimeout(r, 10));
  expect(redis.status).toBe("ready");
}

async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

/** Asks `schedule` as fast as it answers until `untilMs` (system time); returns admissions. */
async function hammer(schedule: RedisAdmission, untilMs: number, key?: () => string): Promise<number> {
  let admitted = 0;
  while (Date.now() < untilMs) {
    if ((await schedule.decide(key?.())).admit) admitted++;
  }
  return admitted;
}

async function commandCalls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info("commandstats");
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return Number(match?.[1] ?? 0);
}

describe("the shared admission schedule across three nodes", () => {
  it("admits the configured rate in total, where three in-memory controllers admit three times it", async () => {
    const nodes = [client(), client(), client()];
    await Promise.all(nodes.map(ready));
    const rate = 40;
    // A generous command timeout: on a loaded machine a slow answer must not turn into a local decision.
    const options = {
      ratePerSecond: rate,
      burst: 4,
      refusalCost: 0,
      prefix: `rate${run++}:`,
      nodes: 3,
      commandTimeoutMs: 5_000,
    };
    const schedules = nodes.map((redis) => redisAdmission({ ...options, redis }));
    const evalBefore = await commandCalls(nodes[0] as Redis, "evalsha");
    const startMs = await redisNowMs(nodes[0] as Redis);
    const until = Date.now() + 1_500;
    const admitted = await Promise.all(schedules.map((schedule) => hammer(schedule, until)));
    const elapsedMs = (await redisNowMs(nodes[0] as Redis)) - startMs;
    const total = admitted.reduce((a, b) => a + b, 0);
    const decisions = schedules.reduce((sum, s) => sum + s.stats.shared + s.stats.local, 0);
    const evalCalls = (await commandCalls(nodes[0] as Redis, "evalsha")) - evalBefore;
    const ceiling = options.burst + (rate * elapsedMs) / 1000;
    // The figure docs/cluster.md quotes (admitted / (burst + C x elapsed)), and round trips per decision.
    console.log(
      `3 nodes, C=${rate}/s, ${Math.round(elapsedMs)} ms: admitted ${total} of ${ceiling.toFixed(1)} allowed (${(total / ceiling).toFixed(3)}), ` +
        `${decisions} decisions, ${(evalCalls / decisions).toFixed(3)} EVALSHA per decision`,
    );
    expect(schedules.every((s) => s.stats.local === 0)).toBe(true);
    expect(total).toBeLessThanOrEqual(Math.floor(ceiling) + 1);
    expect(total).toBeGreaterThanOrEqual(Math.floor(ceiling * 0.85));
    expect(decisions).toBeGreaterThan(total * 3);
    // One round trip per decision: the script is loaded once per client (a NOSCRIPT reply, then EVAL).
    expect(evalCalls).toBeLessThanOrEqual(decisions);
    expect(evalCalls).toBeGreaterThanOrEqual(decisions - 3);

    // Side by side: three nodes each deciding alone at C admit about three times C.
    const alone = [0, 1, 2].map(
      () => new AdmissionController({ ratePerSecond: rate, burst: 4, refusalCost: 0 }, 0),
    );
    const aloneAdmitted = alone
      .map((controller) => {
        let n = 0;
        for (let t = 0; t <= elapsedMs; t += 2) if (controller.decide(t).admit) n++;
        return n;
      })
      .reduce((a, b) => a + b, 0);
    console.log(
      `3 nodes deciding alone at C each: admitted ${aloneAdmitted} (${(aloneAdmitted / total).toFixed(2)} x the shared)`,
    );
    expect(aloneAdmitted).toBeGreaterThan(total * 2.5);
  });

  it("gives refusals from every node slots in one order, one interval apart", async () => {
    const nodes = [client(), client(), client()];
    await Promise.all(nodes.map(ready));
    // Slow enough that no token refills while the 90 arrivals are decided (one per 200 ms).
    const rate = 5;
    const prefix = `order${run++}:`;
    const schedules = nodes.map((redis) =>
      redisAdmission({ redis, ratePerSecond: rate, burst: 1, prefix, nodes: 3, commandTimeoutMs: 5_000 }),
    );
    const startedMs = Date.now();
    const decisions = await Promise.all(
      Array.from({ length: 90 }, (_, i) => (schedules[i % 3] as RedisAdmission).decide()),
    );
    const elapsedMs = Date.now() - startedMs;
    const slots = decisions
      .map((decision) => decision.slotAtMs)
      .filter((slot): slot is number => slot !== undefined)
      .sort((a, b) => a - b);
    const admitted = decisions.filter((d) => d.admit).length;
    // One from the burst, plus one per token refilled meanwhile (none unless the machine stalls 200 ms).
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(admitted).toBeLessThanOrEqual(1 + Math.ceil((elapsedMs * rate) / 1000));
    expect(slots.length).toBe(90 - admitted);
    const interval = 1000 / rate;
    for (let i = 1; i < slots.length; i++) {
      expect((slots[i] as number) - (slots[i - 1] as number)).toBeGreaterThanOrEqual(interval - 1e-6);
    }
    // Each refusal's hint points at its own slot: told to come back no earlier than its place.
    for (const decision of decisions) {
      if (!decision.admit) expect(decision.hint.retryAfterMs).toBeGreaterThanOrEqual(1);
    }
  });

  it("keeps a key's booked slot when the key comes back early on another node", async () => {
    const [a, b] = [client(), client()];
    await Promise.all([ready(a), ready(b)]);
    const prefix = `key${run++}:`;
    const options = { ratePerSecond: 10, burst: 1, prefix, nodes: 2, commandTimeoutMs: 5_000 };
    const [onA, onB] = [redisAdmission({ ...options, redis: a }), redisAdmission({ ...options, redis: b })];
    expect((await onA.decide("alice")).admit).toBe(true);
    const first = await onA.decide("alice");
    expect(first.admit).toBe(false);
    // Alice asks node B before her slot: B knows her booking and books her next one, behind the first.
    const early = await onB.decide("alice");
    expect(early.admit).toBe(false);
    expect(early.slotAtMs).toBeGreaterThan(first.slotAtMs as number);
    // Bob, new, is not behind Alice's own schedule: he is refused on the shared bucket, not paced by hers.
    const bob = await onB.decide("bob");
    expect(bob.admit).toBe(false);
    expect(bob.slotAtMs).toBeLessThan(early.slotAtMs as number);
  });
});

describe("when Redis is unreachable", () => {
  it("decides alone at its share of the rate while Redis is down, and shares again once it is back", async () => {
    const redis = client();
    await ready(redis);
    const schedule = redisAdmission({
      redis,
      ratePerSecond: 30,
      burst: 3,
      refusalCost: 0,
      prefix: `down${run++}:`,
      nodes: 3,
      commandTimeoutMs: 100,
      retryMs: 100,
    });
    expect((await schedule.decide()).local).toBeUndefined();
    await server.kill();
    const startMs = Date.now();
    const admitted = await hammer(schedule, startMs + 1_000);
    const elapsedMs = Date.now() - startMs;
    expect(schedule.mode).toBe("local");
    // Its share: 30 / 3 nodes = 10/s with a burst of 1, not the cluster's 30/s.
    expect(admitted).toBeLessThanOrEqual(1 + Math.ceil((10 * elapsedMs) / 1000) + 1);
    expect(admitted).toBeGreaterThanOrEqual(Math.floor((10 * elapsedMs) / 1000) - 2);
    await server.start();
    await ready(redis);
    const backMs = Date.now();
    let decision = await schedule.decide();
    while (decision.local === true && Date.now() - backMs < 2_000) {
      await new Promise((r) => setTimeout(r, 20));
      decision = await schedule.decide();
    }
    expect(decision.local).toBeUndefined();
    expect(schedule.mode).toBe("shared");
    // Back within retryMs (100) plus the client's reconnect (50 ms retry strategy), with room for load.
    expect(Date.now() - backMs).toBeLessThan(1_500);
  });

  it("books a budget's herd alone as the shared schedule would: the population is split across nodes as the rate is", async () => {
    const redis = client();
    await ready(redis);
    const nowMs = 1_765_000_000_000;
    const clock = { now: () => nowMs, setTimeout, clearTimeout } as never;
    const budget = { budgetWindowMs: 10_000, burst: 1, refusalCost: 0 };
    // 1,500 clients at 100/s: 15 s, within max(W, 20 s), so the whole herd is booked. A node alone sees
    // half of them at half the rate: the same 15 s.
    const schedule = redisAdmission({
      ...budget,
      redis,
      ratePerSecond: 100,
      budgetPopulation: 1_500,
      prefix: `herd${run++}:`,
      nodes: 2,
      clock,
      retryMs: 60_000,
    });
    await server.kill();
    const alone = new AdmissionController({ ...budget, ratePerSecond: 50, budgetPopulation: 750 }, nowMs);
    const hints: number[] = [];
    for (let i = 0; i < 750; i++) {
      const { local, ...decision } = await schedule.decide();
      expect(local).toBe(true);
      expect(decision).toEqual(alone.decide(nowMs));
      if (!decision.admit) hints.push(decision.hint.retryAfterMs);
    }
    // Booked up to 15 s out, not sent back one window (10 s) as a herd twice its size would be.
    expect(Math.max(...hints)).toBeGreaterThan(14_900);
  });

  it("answers within its command timeout while Redis hangs, and shares again once Redis resumes", async () => {
    const redis = client();
    await ready(redis);
    const schedule = redisAdmission({
      redis,
      ratePerSecond: 30,
      burst: 3,
      prefix: `pause${run++}:`,
      nodes: 3,
      commandTimeoutMs: 100,
      retryMs: 200,
    });
    expect((await schedule.decide()).admit).toBe(true);
    server.pause();
    const askedMs = Date.now();
    const first = await schedule.decide();
    expect(first.local).toBe(true);
    expect(Date.now() - askedMs).toBeLessThan(100 + 400);
    // Between probes no decision waits for the hung Redis.
    const quickMs = Date.now();
    for (let i = 0; i < 20; i++) expect((await schedule.decide()).local).toBe(true);
    expect(Date.now() - quickMs).toBeLessThan(50);
    server.resume();
    const resumedMs = Date.now();
    let decision = await schedule.decide();
    while (decision.local === true && Date.now() - resumedMs < 2_000) {
      await new Promise((r) => setTimeout(r, 20));
      decision = await schedule.decide();
    }
    expect(schedule.mode).toBe("shared");
    expect(decision.local).toBeUndefined();
  });

  it("reloads its script into a Redis restarted empty and goes on with a fresh schedule", async () => {
    const redis = client();
    await ready(redis);
    const schedule = redisAdmission({
      redis,
      ratePerSecond: 5,
      burst: 1,
      prefix: `restart${run++}:`,
      nodes: 1,
    });
    expect((await schedule.decide()).admit).toBe(true);
    expect((await schedule.decide()).admit).toBe(false);
    await server.restart();
    await ready(redis);
    let decision = await schedule.decide();
    for (let i = 0; i < 100 && decision.local === true; i++) {
      await new Promise((r) => setTimeout(r, 20));
      decision = await schedule.decide();
    }
    expect(decision).toEqual({ admit: true });
  });
});
