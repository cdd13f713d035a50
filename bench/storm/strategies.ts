/**
 * The reconnect strategies of the storm simulation: ours, run by the library's own {@link ReconnectPlanner}
 * with the options a default {@link ResilientSocket} resolves to, and the peers, modelled line by line from
 * their published source (cited at each model).
 *
 * A strategy knows nothing about the server or the event queue: the simulator asks it, per client, "may you
 * attempt now?", "an attempt failed — when is the next one?", "your open connection ended — when is the
 * next one?", and tells it "open" and "stable". Delays are milliseconds; `Infinity` means "never again".
 */
import { closeOutcome } from "../../src/client/close-outcome.js";
import { type ResilientSocketOptions, resolveOptions } from "../../src/client/options.js";
import type { Random } from "../../src/env.js";
import { type HintPayload, type HintSource, NO_CEILING, readHintPayload } from "../../src/policy/hints.js";
import { type Decision, PAGE_ACTIVE, ReconnectPlanner } from "../../src/policy/planner.js";
import type { BudgetPayload } from "../../src/protocol/budget.js";
import type { CloseInfo, Transport } from "../../src/transports/types.js";

/** A hint as it arrives on the wire, and which wire form carried it. */
export interface WireHint {
  readonly payload: HintPayload;
  readonly source: HintSource;
}

/** The per-client decisions of one strategy for a whole population (index = client). */
export interface ClientPolicy {
  /** 0: attempt now. Otherwise wait this long first (our breaker while open). */
  beforeAttempt(client: number, nowMs: number): number;
  /** The connect timeout of the attempt starting now (a host that does not answer is given up after it). */
  attemptTimeoutMs(client: number, nowMs: number): number;
  /** An attempt failed (refused, timed out): the delay until the next attempt. */
  onFailure(client: number, nowMs: number, hint: WireHint | undefined): number;
  /** An open connection ended (a drop, a crash, a drain): the delay until the next attempt. */
  onClose(client: number, nowMs: number, wasStable: boolean, hint: WireHint | undefined): number;
  /**
   * The attempt succeeded (the connection is open) after `openMs` (its handshake); `budget`: what the server
   * announced in its first message.
   */
  onOpen(client: number, nowMs: number, budget: BudgetPayload | undefined, openMs: number): void;
  /** The connection stayed open for `stableAfterMs`. */
  onStable(client: number, nowMs: number): void;
}

export interface Strategy {
  /** Short id for `--strategies`. */
  readonly id: string;
  /** Name in tables and charts. */
  readonly name: string;
  /** Does the server in front of this strategy answer with hints (admission appointments, drain schedule)? */
  readonly serverHints: boolean;
  /** An attempt to a host that does not answer is abandoned after this long. */
  readonly connectTimeoutMs: number;
  /** A connection must stay open this long before {@link ClientPolicy.onStable}; 0 = never called. */
  readonly stableAfterMs: number;
  create(clients: number, random: Random): ClientPolicy;
}

/** Never used to connect: only there so `resolveOptions` hands back a default socket's resolved options. */
const simulatedTransport: Transport = {
  name: "storm-simulation",
  connect() {
    throw new Error("the storm simulation never opens a real connection");
  },
};

/**
 * Ours: every client is the shipped client's decision path on a virtual clock — a {@link ReconnectPlanner}
 * with exactly the planner options, connect timeout and stable period a `new ResilientSocket({ transport })`
 * resolves to (read from the library's own `resolveOptions`, so the simulation cannot drift from the
 * defaults), and the socket's own outcome mapping: a failure or close becomes the {@link CloseInfo} the
 * Socket.IO transport reports (a middleware refusal with its `connect_error` data is `refused`; a refused
 * handshake or a dead port `error`; a dropped connection `closed`, with the drain notice when there was
 * one), read by the same `readHintPayload` the transport uses, mapped by the socket's `closeOutcome`, and
 * decided by `planner.ended` — the call `ResilientSocket` makes. With hints, the server also announces its
 * connect-time budget on every admit (`reconnectBudget` of the server entry), which the client hands to
 * `planner.onBudget` as the socket does. `options` (default none) are a ResilientSocket's own options, for
 * experiments with other settings.
 */
export function ours(
  id: string,
  name: string,
  serverHints: boolean,
  options: Omit<ResilientSocketOptions, "transport"> = {},
): Strategy {
  const resolved = resolveOptions({ ...options, transport: simulatedTransport, autoConnect: false });
  const { planner: plannerOptions, connectTimeoutMs, stableAfterMs } = resolved;
  return {
    id,
    name,
    serverHints,
    connectTimeoutMs,
    stableAfterMs,
    create(clients, random) {
      const planners = Array.from({ length: clients }, () => new ReconnectPlanner(plannerOptions));
      const planner = (client: number) => planners[client] as ReconnectPlanner;
      const delayOf = (decision: Decision) =>
        decision.kind === "wait"
          ? decision.delayMs
          : decision.kind === "connect"
            ? 0
            : Number.POSITIVE_INFINITY;
      const ended = (client: number, nowMs: number, wasStable: boolean, info: CloseInfo) => {
        const outcome = closeOutcome(info, undefined, resolved);
        if (outcome.stop) return Number.POSITIVE_INFINITY;
        return delayOf(planner(client).ended(nowMs, random, wasStable, PAGE_ACTIVE, outcome.hint));
      };
      const withHint = (info: CloseInfo, hint: WireHint | undefined): CloseInfo =>
        hint === undefined ? info : { ...info, hint: readHintPayload(hint.payload, hint.source, NO_CEILING) };
      return {
        beforeAttempt(client, nowMs) {
          const decision = planner(client).next(nowMs, PAGE_ACTIVE);
          return decision.kind === "connect" ? 0 : Math.max(1, delayOf(decision));
        },
        attemptTimeoutMs: (client, nowMs) => planner(client).attemptTimeoutMs(nowMs, connectTimeoutMs),
        onFailure: (client, nowMs, hint) =>
          ended(client, nowMs, false, withHint({ kind: hint === undefined ? "error" : "refused" }, hint)),
        onClose: (client, nowMs, wasStable, hint) =>
          ended(client, nowMs, wasStable, withHint({ kind: "closed" }, hint)),
        onOpen(client, nowMs, budget, openMs) {
          planner(client).onOpened(openMs);
          if (budget !== undefined) planner(client).onBudget(nowMs, random, budget);
        },
        onStable: (client, nowMs) => planner(client).onStable(nowMs),
      };
    },
  };
}

export interface SocketIoOptions {
  reconnectionDelay: number;
  reconnectionDelayMax: number;
  randomizationFactor: number;
  timeout: number;
}

/** socket.io-client 4.8 defaults: `Manager` constructor in socket.io-client/build/esm/manager.js. */
export const socketIoDefaults: Readonly<SocketIoOptions> = Object.freeze({
  reconnectionDelay: 1000,
  reconnectionDelayMax: 5000,
  randomizationFactor: 0.5,
  timeout: 20_000,
});

/**
 * socket.io-client's Manager, model of socket.io-client 4.8.4 (node_modules/socket.io-client/build/esm):
 * - delay: `Backoff.prototype.duration` in contrib/backo2.js, reproduced expression for expression —
 *   `ms = min * factor ** attempts++`; one draw `rand`; `deviation = floor(rand * jitter * ms)`;
 *   `ms = (floor(rand * 10) & 1) == 0 ? ms - deviation : ms + deviation`; `return min(ms, max) | 0`
 *   (so past ~1,024 failures `attempts` overflows to Infinity and half the draws are 0 ms, as upstream);
 * - a failed attempt: `Manager.open`'s `onError` → `reconnect()` → the next `duration()`;
 * - an open connection's end: `Manager.onclose` calls `backoff.reset()` before `reconnect()`;
 * - a successful attempt: `Manager.onreconnect` calls `backoff.reset()` (the counter resets on connect —
 *   no flap damping);
 * - `timeout` (default 20 s): `Manager.open`'s timer.
 * A server over capacity refuses the engine.io handshake (an HTTP 503 without anything the client reads),
 * which reaches `onError`; a Socket.IO middleware refusal would instead stop the Manager for good.
 */
export function socketIoClient(id: string, name: string, options: SocketIoOptions): Strategy {
  const { reconnectionDelay: min, reconnectionDelayMax: max, randomizationFactor: jitter } = options;
  return {
    id,
    name,
    serverHints: false,
    connectTimeoutMs: options.timeout,
    stableAfterMs: 0,
    create(clients, random) {
      const attempts = new Float64Array(clients);
      const duration = (client: number) => {
        const n = attempts[client] as number;
        attempts[client] = n + 1;
        let ms = min * 2 ** n;
        if (jitter > 0) {
          const rand = random();
          const deviation = Math.floor(rand * jitter * ms);
          ms = (Math.floor(rand * 10) & 1) === 0 ? ms - deviation : ms + deviation;
        }
        return Math.min(ms, max) | 0;
      };
      return {
        beforeAttempt: () => 0,
        attemptTimeoutMs: () => options.timeout,
        onFailure: (client) => duration(client),
        onClose(client) {
          attempts[client] = 0;
          return duration(client);
        },
        onOpen(client) {
          attempts[client] = 0;
        },
        onStable() {},
      };
    },
  };
}

/**
 * partysocket 1.3.0 (its ReconnectingWebSocket), read in node_modules/partysocket/dist/ws.js (source
 * src/ws.ts of cloudflare/partykit, package partysocket 1.3.0), defaults in its `DEFAULT` object:
 * `minReconnectionDelay: 3e3` — a constant now (older releases drew `1000 + Math.random() * 4000` once at
 * module load), `maxReconnectionDelay: 1e4`, `reconnectionDelayGrowFactor: 1.3`, `minUptime: 5e3`,
 * `connectionTimeout: 4e3`:
 * - `_getNextDelay`: 0 while `_retryCount` is 0, else `minReconnectionDelay * growFactor ** (_retryCount - 1)`,
 *   capped at `maxReconnectionDelay`; no jitter anywhere — every client that lost the server together
 *   retries at 3 s, 6.9 s, 12 s, … after the loss, in lock step;
 * - `_connect` increments `_retryCount` before `_wait`; `_handleError` and `_handleClose` both call
 *   `_connect`; `_acceptOpen` resets `_retryCount` to 0 only after `minUptime` open (so a flapping
 *   connection keeps growing), and nothing resets it on open alone.
 */
export function partysocket(id: string, name: string): Strategy {
  const minDelay = 3000;
  const maxDelay = 10_000;
  const grow = 1.3;
  return {
    id,
    name,
    serverHints: false,
    connectTimeoutMs: 4000,
    stableAfterMs: 5000,
    create(clients) {
      const retryCount = new Float64Array(clients);
      const next = (client: number) => {
        const count = (retryCount[client] as number) + 1;
        retryCount[client] = count;
        if (count <= 0) return 0;
        return Math.min(minDelay * grow ** (count - 1), maxDelay);
      };
      return {
        beforeAttempt: () => 0,
        attemptTimeoutMs: () => 4000,
        onFailure: (client) => next(client),
        onClose: (client) => next(client),
        onOpen() {},
        onStable(client) {
          retryCount[client] = 0;
        },
      };
    },
  };
}

/**
 * AWS "decorrelated jitter" exactly as published — `sleep = min(cap, random_between(base, sleep * 3))`,
 * `sleep` starting at `base` — clamped at the cap (so at the cap a share of all draws is exactly `cap`).
 * Parameters: base 1 s (socket.io-client's `reconnectionDelay`) and cap 30 s (the incident's
 * `reconnectionDelayMax`), the scale a reconnecting client would choose; the article gives the formula,
 * not reconnect parameters. The delay resets to `base` on a successful connect; connect timeout 20 s.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/ (Marc Brooker, 2015)
 */
export function awsDecorrelated(id: string, name: string, baseMs = 1000, capMs = 30_000): Strategy {
  return {
    id,
    name,
    serverHints: false,
    connectTimeoutMs: 20_000,
    stableAfterMs: 0,
    create(clients, random) {
      const sleep = new Float64Array(clients).fill(baseMs);
      const next = (client: number) => {
        const s = Math.min(capMs, baseMs + random() * ((sleep[client] as number) * 3 - baseMs));
        sleep[client] = s;
        return s;
      };
      return {
        beforeAttempt: () => 0,
        attemptTimeoutMs: () => 20_000,
        onFailure: (client) => next(client),
        onClose: (client) => next(client),
        onOpen(client) {
          sleep[client] = baseMs;
        },
        onStable() {},
      };
    },
  };
}

/** Every strategy the storm lab compares, in table order. */
export function allStrategies(): Strategy[] {
  return [
    socketIoClient("socketio", "socket.io-client defaults", socketIoDefaults),
    socketIoClient("incident", "socket.io-client, 30 s cap (incident)", {
      ...socketIoDefaults,
      reconnectionDelayMax: 30_000,
    }),
    partysocket("partysocket", "partysocket 1.3.0 defaults"),
    awsDecorrelated("aws", "AWS decorrelated jitter (1 s, cap 30 s)"),
    ours("ours", "ours without hints", false),
    ours("ours-hints", "ours with hints", true),
  ];
}

/** The strategies named by `ids` (all when undefined), in table order; an unknown id throws naming it. */
export function pickStrategies(ids: readonly string[] | undefined): Strategy[] {
  const all = allStrategies();
  if (ids === undefined) return all;
  const known = all.map((s) => s.id);
  const unknown = ids.find((id) => !known.includes(id));
  if (unknown !== undefined) {
    throw new RangeError(`--strategies: unknown strategy "${unknown}"; known: ${known.join(", ")}`);
  }
  return all.filter((s) => ids.includes(s.id));
}
