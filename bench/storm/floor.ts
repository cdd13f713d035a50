/**
 * The floor of one run: the best any scheme could do whose first wave is this run's — every client's first
 * attempt after the loss at the moment the run's strategy made it (for ours with hints: the budget's slots,
 * announced before anyone knew of the storm) — and which, after that, is an oracle: it knows the scenario
 * (how long the brownout lasts, when the server returns) and brings each refused client back exactly when
 * the server can admit it, at no cost in refusals. Computed from the run itself, so a point out of reach is
 * a measurement, not an argument.
 *
 * Same physics as the run ({@link ServerModel} without hints: work at C per second, admits cost 1, refusals
 * r, one second of backlog, the crash rule, the restart). Per millisecond: the scenario's actions, the
 * crash check every 100 ms, the first-wave attempts due (admitted when the physics has a whole unit of work,
 * else refused at cost r, or failed on a dead port at no cost), then the oracle admits waiting clients. A
 * connection opens one round trip after its admit, as in the run. Two oracles:
 * - one that knows the first wave ahead and admits waiting clients only from the work the wave will not need
 *   (it keeps the largest excess of the wave's arrivals over the refill ahead, at most a bucket: a
 *   first-wave attempt that finds no work is refused and costs r besides);
 * - one that serves the first wave before anyone: it refuses the fewest first attempts (admitting whenever
 *   there is work is the most a token bucket can admit of a given stream), then brings everyone else back.
 *
 * - `t99OverIdeal`: the earlier of the two oracles' T99, over the ideal. A greedy oracle, not a proof: where
 *   a run beats it the tables show it (a floor above the run's own figure); none did in the sweep.
 * - `liveAttemptsPerClient`: 1 + (live first attempts the second oracle refused) / N — every client needs
 *   one live attempt, and one refused at its first needs another. A true lower bound for schemes with this
 *   first wave (up to a crash the first wave causes, which it shares). In the brownout it is
 *   1 + (first attempts inside the brownout − admits during it) / N.
 */
import type { Scenario } from "./scenarios.js";
import { BUCKET_MS, DOWN, REFUSE, ServerModel } from "./server-model.js";

export interface RunFloor {
  /** T99 over the ideal for the best scheme with this first wave; null when 99 % is never reached. */
  readonly t99OverIdeal: number | null;
  /** Live attempts per client of that scheme. */
  readonly liveAttemptsPerClient: number;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * @param firstAttemptAt Per client, when its first attempt after the scenario's loss was made (ms), NaN when it
 *   made none (the oracle may then bring it back from the first loss on, with no first attempt of its own).
 */
export function runFloor(scenario: Scenario, firstAttemptAt: Float64Array): RunFloor {
  const { config, originMs, idealMs } = scenario;
  const n = config.clients;
  const times = Float64Array.from(firstAttemptAt.filter((t) => !Number.isNaN(t)).map(Math.ceil)).sort();
  const ahead = oracle(scenario, times, reserveAhead(scenario, times));
  const waveFirst = oracle(scenario, times, undefined);
  const reached = [ahead.reachedAt, waveFirst.reachedAt].filter((t): t is number => t !== undefined);
  return {
    t99OverIdeal: reached.length === 0 ? null : round((Math.min(...reached) - originMs) / idealMs),
    // Every client needs one live attempt, and one more for each live first attempt refused; the oracle that
    // serves the first wave before anyone else refuses the fewest of them.
    liveAttemptsPerClient: round((n + waveFirst.refusedFirst) / n),
  };
}

interface OracleRun {
  /** When 99 % were first connected (ms, the round trip included). */
  readonly reachedAt: number | undefined;
  /** First-wave attempts that reached a live server and were refused. */
  readonly refusedFirst: number;
}

/**
 * One oracle pass: waiting clients are admitted from the work the first wave will not need (`reserve`), or,
 * without one, only once every first attempt has been made.
 */
function oracle(scenario: Scenario, times: Float64Array, reserve: Float32Array | undefined): OracleRun {
  const { config, actions } = scenario;
  const n = config.clients;
  const server = new ServerModel(config, false, config.horizonMs);
  const ordered = [...actions].sort((a, b) => a.atMs - b.atMs);
  const target = Math.ceil(0.99 * n);
  /** Connected since before t = 0, not yet dropped. */
  let initial = n;
  /** Admitted after their first attempt. */
  let admitted = 0;
  /** Made their first attempt, not connected: the oracle's to bring back. */
  let waiting = 0;
  let refusedFirst = 0;
  let next = 0;
  let action = 0;
  let scenarioDown = false;
  let crashDownUntil = Number.NEGATIVE_INFINITY;
  let reachedAt: number | undefined;
  const attempting = times.length;
  const dropAll = () => {
    // Clients the run never brought back (their strategy gave up) are the oracle's from the first loss on.
    waiting += admitted + (initial > 0 ? n - attempting : 0);
    admitted = 0;
    initial = 0;
  };
  const admit = (now: number) => {
    admitted++;
    if (reachedAt === undefined && initial + admitted >= target) reachedAt = now + config.rttMs;
  };
  const lastAction = ordered.length === 0 ? 0 : (ordered[ordered.length - 1]?.atMs ?? 0);
  for (let now = 0; now <= config.horizonMs; now++) {
    for (; action < ordered.length && (ordered[action]?.atMs ?? 0) <= now; action++) {
      const a = ordered[action];
      if (a === undefined) break;
      if (a.kind === "drop-all") dropAll();
      else if (a.kind === "capacity") server.setCapacity(now, a.capacity);
      else if (a.kind === "up") {
        scenarioDown = false;
        if (now >= crashDownUntil) server.comeUp(now);
      } else {
        scenarioDown = true;
        server.goDown();
        dropAll();
      }
    }
    if (now === crashDownUntil && !scenarioDown) server.comeUp(now);
    if (now % BUCKET_MS === 0 && server.tick(now)) {
      crashDownUntil = now + config.restartMs;
      dropAll();
    }
    for (; next < attempting && (times[next] as number) <= now; next++) {
      const answer = server.arrive(now);
      if (answer === REFUSE) refusedFirst++;
      if (answer === DOWN || answer === REFUSE) waiting++;
      else admit(now);
    }
    const keep =
      reserve === undefined ? 1 : 1 + Math.min(reserve[now] ?? 0, Math.max(0, server.capacity / 2 - 1));
    while (
      waiting > 0 &&
      (reserve !== undefined || next === attempting) &&
      server.workAvailable(now) >= keep
    ) {
      server.arrive(now);
      waiting--;
      admit(now);
    }
    if (next === attempting && waiting === 0 && now >= lastAction) break;
  }
  return { reachedAt, refusedFirst };
}

/**
 * Per millisecond, the work the first-wave attempts still to come will lack (their arrivals less the
 * scheduled refill, accumulated backwards): what the oracle keeps for them. Ignores crashes and outages
 * (unknown ahead, or no work needed), so it may keep too much, never too little for a wave at full capacity.
 */
function reserveAhead(scenario: Scenario, times: Float64Array): Float32Array {
  const { horizonMs, capacity } = scenario.config;
  const arrivals = new Uint32Array(horizonMs + 2);
  for (const t of times) if (t <= horizonMs) arrivals[t] = (arrivals[t] as number) + 1;
  const changes = scenario.actions.filter((a) => a.kind === "capacity").sort((a, b) => a.atMs - b.atMs);
  const perMs = new Float32Array(horizonMs + 2).fill(capacity / 1000);
  for (const change of changes) {
    if (change.kind !== "capacity") continue;
    perMs.fill(change.capacity / 1000, Math.min(change.atMs, horizonMs + 2));
  }
  const need = new Float32Array(horizonMs + 2);
  for (let t = horizonMs; t >= 0; t--) {
    need[t] = Math.max(0, (need[t + 1] as number) + (arrivals[t + 1] as number) - (perMs[t + 1] as number));
  }
  return need;
}
