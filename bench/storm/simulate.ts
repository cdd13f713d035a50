/**
 * One storm, one strategy: N clients on virtual time (ms), each driven by the strategy's per-client policy,
 * against the {@link ServerModel}, through the scenario's timeline. Deterministic: one seeded random source
 * per (seed, strategy), events in time order with ties first-scheduled-first-run.
 *
 * Client life: connected and stable before t = 0 → its connection ends (drop, crash, drain) → it waits what
 * its policy says → attempts: the server admits (open one round trip later), refuses (known one round trip
 * later, with an appointment when the server speaks hints), or is down (the attempt fails one round trip later
 * or at the client's connect timeout) → … A connected client stays connected until a crash or the scenario
 * drops it. A refused or failed attempt is settled when it is made (nothing can reach a client that holds no
 * connection), so it costs one event.
 */
import { type Random, seededRandom } from "../../src/env.js";
import type { HintPayload } from "../../src/policy/hints.js";
import type { BudgetPayload } from "../../src/protocol/budget.js";
import { drainSchedule } from "../../src/server/admission.js";
import { reconnectBudget } from "../../src/server/budget.js";
import { EventQueue } from "./engine.js";
import { runFloor } from "./floor.js";
import { perSecond, type StrategyResult, type StrategySeries, summarise } from "./metrics.js";
import type { Scenario, ScenarioAction } from "./scenarios.js";
import { ADMIT, type AdmissionSetup, BUCKET_MS, DOWN, REFUSE, ServerModel } from "./server-model.js";
import type { ClientPolicy, Strategy, WireHint } from "./strategies.js";

export type { StrategyResult, StrategySeries } from "./metrics.js";

export interface StrategyRun {
  readonly result: StrategyResult;
  readonly series: StrategySeries;
}

const ATTEMPT = 0;
const OPEN = 1;
const STABLE = 2;
const TICK = -1;
const RESTART = -2;
/** Scenario action j is target ACTION_BASE - j. */
const ACTION_BASE = -10;

/** Status of a client. */
const WAITING = 0;
const OPENING = 1;
const CONNECTED = 2;

/** A seed per (run seed, strategy) so adding a strategy does not change the others' draws. */
function strategySeed(seed: number, id: string): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * @param admission How the hint server builds its admission controller (default: the library's, default
 *   options); for experiments.
 */
export function simulate(
  scenario: Scenario,
  strategy: Strategy,
  admission: AdmissionSetup = {},
): StrategyRun {
  const { config, actions, originMs } = scenario;
  const n = config.clients;
  const horizon = config.horizonMs;
  const random: Random = seededRandom(strategySeed(config.seed, strategy.id));
  const policy: ClientPolicy = strategy.create(n, random);
  // A server that speaks hints announces its connect-time budget on every admit: W = N / C, the library's
  // own announcer. Knowing N / C, it also books appointments at least one window ahead: with the default
  // 60 s horizon a herd of 200,000 at 300/s (W = 667 s) would cycle through "no appointment, come back in
  // 60–90 s" refusals whose cost alone exceeds the server's capacity.
  const budget: BudgetPayload | undefined = strategy.serverHints
    ? reconnectBudget({ population: n, ratePerSecond: config.capacity }).payload()
    : undefined;
  // It also tells admission its window, so clients past the horizon are sent back within one window, and
  // the population the window was announced for, so the herd is booked whole only when it fits soon.
  const bookAhead =
    budget === undefined
      ? {}
      : {
          maxBookAheadMs: Math.max(60_000, budget.windowMs),
          budgetWindowMs: budget.windowMs,
          budgetPopulation: n,
        };
  const server = new ServerModel(config, strategy.serverHints, horizon, {
    ...admission,
    options: { ...bookAhead, ...admission.options },
  });
  const queue = new EventQueue(Math.min(4 * n + 64, 1 << 22));

  const status = new Uint8Array(n).fill(CONNECTED);
  const stable = new Uint8Array(n).fill(1);
  const generation = new Int32Array(n);
  let connected = n;
  const attemptsPerBucket = new Float64Array(Math.ceil(horizon / BUCKET_MS) + 1);
  const connectedPerSecond: number[] = [];
  const loadPerSecond: number[] = [];
  let attempts = 0;
  /** Attempts that reached a live server (admitted or refused by it), apart from a dead port's refusals. */
  let liveAttempts = 0;
  /** Each client's first attempt after the loss (ms), for the run's floor. */
  const firstAttemptAt = new Float64Array(n).fill(Number.NaN);
  const targets = [Math.ceil(0.5 * n), Math.ceil(0.95 * n), Math.ceil(0.99 * n), n];
  const reachedAt: (number | undefined)[] = [undefined, undefined, undefined, undefined];
  const lastActionAt = actions.reduce((latest, a) => Math.max(latest, a.atMs), 0);
  let scenarioDown = false;
  let crashDownUntil = Number.NEGATIVE_INFINITY;
  let now = 0;
  // Each client is served its own slot, as the server's announcer serves it (on the lab's clock).
  const announcer =
    budget === undefined
      ? undefined
      : reconnectBudget({ population: n, ratePerSecond: config.capacity, clock: { now: () => now } });
  let endMs = horizon;

  const tag = (client: number, kind: number) => ((generation[client] as number) << 2) | kind;
  const scheduleAttempt = (client: number, atMs: number, delayMs: number) => {
    if (!Number.isFinite(delayMs)) return; // the policy gave up on this client
    queue.push(atMs + Math.max(0, Math.ceil(delayMs)), client, tag(client, ATTEMPT));
  };

  /** The client's connection (or its admitted, not yet open attempt) ends now. */
  const dropClient = (client: number, hint: WireHint | undefined) => {
    const st = status[client] as number;
    if (st === WAITING) return;
    generation[client] = (generation[client] as number) + 1;
    let delay: number;
    if (st === CONNECTED) {
      connected--;
      delay = policy.onClose(client, now, stable[client] === 1, hint);
    } else {
      delay = policy.onFailure(client, now, hint);
    }
    status[client] = WAITING;
    stable[client] = 0;
    scheduleAttempt(client, now, delay);
  };

  const dropEveryone = (hintFor?: (client: number) => WireHint) => {
    for (let c = 0; c < n; c++) dropClient(c, hintFor?.(c));
  };

  const runAction = (action: ScenarioAction) => {
    switch (action.kind) {
      case "drop-all":
        dropEveryone();
        return;
      case "capacity":
        server.setCapacity(now, action.capacity);
        return;
      case "down":
        scenarioDown = true;
        server.goDown();
        dropEveryone();
        return;
      case "up":
        scenarioDown = false;
        if (now >= crashDownUntil) server.comeUp(now);
        return;
      case "drain": {
        scenarioDown = true;
        server.goDown();
        if (!strategy.serverHints) {
          dropEveryone();
          return;
        }
        // The library's own drain schedule, starting when the restarted server accepts (drain's startInMs).
        const schedule = drainSchedule(n, action.windowMs, action.offsetMs);
        dropEveryone((c) => ({ payload: schedule[c] as HintPayload, source: "drain" }));
        return;
      }
    }
  };

  const attempt = (client: number) => {
    const wait = policy.beforeAttempt(client, now);
    if (wait > 0) {
      scheduleAttempt(client, now, wait);
      return;
    }
    attempts++;
    if (Number.isNaN(firstAttemptAt[client] as number)) firstAttemptAt[client] = now;
    const bucket = Math.floor(now / BUCKET_MS);
    attemptsPerBucket[bucket] = (attemptsPerBucket[bucket] as number) + 1;
    const answer = server.arrive(now);
    if (answer !== DOWN) liveAttempts++;
    if (answer === ADMIT) {
      status[client] = OPENING;
      queue.push(now + config.rttMs, client, tag(client, OPEN));
      return;
    }
    if (answer === REFUSE) {
      const at = now + config.rttMs;
      const payload = server.lastHint;
      const hint: WireHint | undefined =
        payload === undefined ? undefined : { payload, source: "connect-error" };
      scheduleAttempt(client, at, policy.onFailure(client, at, hint));
      return;
    }
    const at = now + (config.downFailure === "timeout" ? policy.attemptTimeoutMs(client, now) : config.rttMs);
    scheduleAttempt(client, at, policy.onFailure(client, at, undefined));
  };

  const open = (client: number) => {
    status[client] = CONNECTED;
    connected++;
    policy.onOpen(client, now, announcer?.payload(), config.rttMs);
    if (strategy.stableAfterMs > 0) queue.push(now + strategy.stableAfterMs, client, tag(client, STABLE));
    else stable[client] = 1;
    for (let k = 0; k < targets.length; k++) {
      if (reachedAt[k] === undefined && connected >= (targets[k] as number)) reachedAt[k] = now;
    }
  };

  const tick = () => {
    const crashed = server.tick(now);
    if (now % 1000 === 0) {
      connectedPerSecond.push(connected);
      loadPerSecond.push(server.loadPerSecond);
    }
    if (crashed) {
      crashDownUntil = now + config.restartMs;
      dropEveryone();
      queue.push(crashDownUntil, RESTART, 0);
    }
    if (now + BUCKET_MS <= horizon) queue.push(now + BUCKET_MS, TICK, 0);
  };

  // Everyone connected before t = 0, and heard the server's budget then.
  if (announcer !== undefined) {
    for (let c = 0; c < n; c++) policy.onOpen(c, 0, announcer.payload(), config.rttMs);
  }
  actions.forEach((action, j) => {
    queue.push(action.atMs, ACTION_BASE - j, 0);
  });
  queue.push(0, TICK, 0);

  while (queue.pop()) {
    if (queue.at > horizon) break;
    now = queue.at;
    const target = queue.target;
    if (target >= 0) {
      const t = queue.tag;
      if (t >> 2 !== generation[target]) continue;
      const kind = t & 3;
      if (kind === ATTEMPT) attempt(target);
      else if (kind === OPEN) open(target);
      else if (kind === STABLE && status[target] === CONNECTED) {
        stable[target] = 1;
        policy.onStable(target, now);
      }
    } else if (target === TICK) {
      tick();
    } else if (target === RESTART) {
      if (!scenarioDown) server.comeUp(now);
    } else {
      runAction(actions[ACTION_BASE - target] as ScenarioAction);
    }
    if (connected === n && reachedAt[3] !== undefined && now >= lastActionAt && server.up) {
      endMs = now;
      break;
    }
  }

  return {
    result: summarise({
      name: strategy.name,
      id: strategy.id,
      n,
      capacity: config.capacity,
      originMs,
      endMs,
      reachedAt,
      attempts,
      liveAttempts,
      idealMs: scenario.idealMs,
      attemptsPerBucket,
      downstreamCalls: server.admits * config.fanout,
      crashes: server.crashes,
      connected,
      floor: runFloor(scenario, firstAttemptAt),
    }),
    series: {
      connected: connectedPerSecond,
      attemptsPerSecond: perSecond(attemptsPerBucket, endMs),
      offeredLoad: loadPerSecond,
    },
  };
}
