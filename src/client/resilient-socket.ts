/**
 * ResilientSocket: runs the reconnect planner over a transport. One connection at a time, every timer
 * stored and cleared by `close()`, every reconnect path through the one policy.
 *
 * Listeners run synchronously and may call back in (`close()` from an `error` listener is ordinary app
 * code), so every step that emits checks afterwards whether the socket was closed meanwhile; nothing ever
 * leaves the `closed` state.
 */
import type { Clock, Random, TimerHandle } from "../env.js";
import {
  HintError,
  type ResilientReconnectError,
  RetriesExhaustedError,
  TimeoutError,
  TransportError,
} from "../errors.js";
import type { CircuitState } from "../policy/circuit-breaker.js";
import type { RetryHint } from "../policy/hints.js";
import { type Decision, PAGE_ACTIVE, type PageState, ReconnectPlanner } from "../policy/planner.js";
import { type BudgetReading, isBudgetFrame, readBudget, readBudgetFrame } from "../protocol/budget.js";
import type { CloseInfo, Connection, ConnectionHandlers, TransportContext } from "../transports/types.js";
import { closeOutcome } from "./close-outcome.js";
import { Emitter } from "./emitter.js";
import type { ResilientSocketEvents, SendResult, SocketState, SocketStats } from "./events.js";
import { Liveness } from "./liveness.js";
import type { MessageSocket } from "./message-socket.js";
import { type ResilientSocketOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { Outbox, type OutboxHost } from "./outbox.js";
import { PageSignals } from "./page-signals.js";
import type { Dropped } from "./queue.js";
import { warnUnheard } from "./unheard.js";

let OutboxLink: (new (socket: ResilientSocket) => OutboxHost) | undefined;

/**
 * A reconnecting socket over one transport (`webSocketTransport`, `socketIoTransport`, or your own): it
 * connects, and after every drop, refusal or failed attempt it waits as the policy says — jittered backoff,
 * server hints, circuit breaker, flap damping — before it tries again. Messages sent while away are queued
 * (bounded) and sent on the next connection. Implements {@link MessageSocket}.
 *
 * Events: see {@link ResilientSocketEvents}; options: see {@link ResilientSocketOptions}.
 * @typeParam In - the data of inbound messages (`message` event). Default `unknown`: narrow it only when the
 * transport and server guarantee it (nothing here checks it).
 * @typeParam Out - what `send` and `sendNow` take. Default: the same as `In`.
 * @example
 * ```ts
 * const socket = new ResilientSocket({ transport: webSocketTransport({ url: "ws://127.0.0.1:8080" }) });
 * socket.on("message", (data) => console.log(data));
 * socket.on("retry", ({ delayMs, cause }) => console.log(`retrying in ${delayMs} ms (${cause})`));
 * socket.send("hello"); // sent now, or queued until the connection opens
 * ```
 */
export class ResilientSocket<In = unknown, Out = In>
  extends Emitter<ResilientSocketEvents<In>>
  implements MessageSocket<In, Out>
{
  private readonly options: ResolvedOptions;
  /** Time and timers (the `clock` option). */
  protected readonly clock: Clock;
  private readonly random: Random;
  private readonly planner: ReconnectPlanner;
  private readonly outbox: Outbox;
  private readonly liveness: Liveness | undefined;
  private readonly signals: PageSignals | undefined;
  private current: Connection | undefined;
  /** Identifies the live attempt; handlers of any other attempt are ignored (no stale timeout or close
   * ever touches the next socket). 0 when there is none. */
  private liveAttempt = 0;
  private attemptSeq = 0;
  /** True while the transport's `connect()` runs. */
  private insideConnect = false;
  private currentState: SocketState = "idle";
  private stable = false;
  private probe = false;
  /** When the attempt in flight started (clock ms), for the handshake time the planner remembers. */
  private attemptStartedAt = 0;
  /** The one timer that starts attempts; armed only by {@link follow}. */
  private retryTimer: TimerHandle | undefined;
  private connectTimer: TimerHandle | undefined;
  private stableTimer: TimerHandle | undefined;
  private nextAttemptAt: number | undefined;
  private currentDelayMs: number | undefined;
  private lastHint: RetryHint | undefined;
  private attempts = 0;
  private connections = 0;
  private droppedCount = 0;
  private lastCircuit: CircuitState = "closed";
  /** Only with a `signal` (a closure per socket otherwise unused). */
  private onAbort: (() => void) | undefined;
  /** An error was reported with no `error` listener (reported once per socket, see `unheard.ts`). */
  private warned = false;

  /** Every event goes out here: each `drop` is counted, an `error` nothing listens for is reported once per socket. */
  protected override emit<E extends keyof ResilientSocketEvents>(
    event: E,
    ...args: Parameters<ResilientSocketEvents[E]>
  ): void {
    if (event === "drop") this.droppedCount++;
    else if (event === "error" && !this.warned && this.listenerCount("error") === 0) {
      this.warned = true;
      this.unheard(args[0]);
    }
    super.emit(event, ...args);
  }

  /** Reports the first error nothing listened for (io()'s governor also counts socket.io's listeners). */
  protected unheard(error: unknown): void {
    warnUnheard("ResilientSocket", error);
  }

  constructor(options: ResilientSocketOptions) {
    super();
    this.options = resolveOptions(options);
    this.clock = this.options.clock;
    this.random = this.options.random;
    this.planner = new ReconnectPlanner(this.options.planner);
    this.outbox = new Outbox(
      this.options.queue,
      this.options.transport,
      this.outboxLink(),
      this.options.delivery,
    );
    const { heartbeat, signal } = this.options;
    this.liveness =
      heartbeat === undefined
        ? undefined
        : new Liveness(
            heartbeat,
            this.clock,
            (ping) => this.outbox.sendNow(ping),
            (silentMs) =>
              this.ended({
                error: new TimeoutError(
                  "HEARTBEAT_TIMEOUT",
                  `no inbound traffic for ${silentMs} ms after a ping`,
                ),
              }),
          );
    if (signal?.aborted) {
      this.currentState = "closed";
      return;
    }
    if (signal !== undefined) {
      this.onAbort = () => void this.close();
      signal.addEventListener("abort", this.onAbort, { once: true });
    }
    const signals = this.options.signals;
    this.signals =
      signals &&
      new PageSignals(signals, this.clock, {
        changed: () => this.signalsChanged(),
        hide: () => this.hide(),
        wake: () => this.currentState === "open" && this.liveness?.checkNow(),
      });
    if (this.options.autoConnect) queueMicrotask(() => this.currentState === "idle" && this.attempt(false));
  }

  /**
   * The socket's side of its outbox: one object with its methods on a prototype, where six closures would
   * cost some 400 bytes per socket (a process holding thousands of sockets pays that thousands of times).
   * The class is written inside this one (so it reaches private members) and made on first use (a static
   * block would be a side effect that keeps ResilientSocket in bundles that never use it).
   */
  private outboxLink(): OutboxHost {
    OutboxLink ??= class implements OutboxHost {
      constructor(private readonly socket: ResilientSocket) {}
      now(): number {
        return this.socket.clock.now();
      }
      transmit(wire: unknown): boolean {
        return this.socket.transmit(wire);
      }
      isOpen(): boolean {
        return this.socket.currentState === "open";
      }
      isClosed(): boolean {
        return this.socket.closed;
      }
      drop(dropped: Dropped): void {
        this.socket.emit("drop", dropped);
      }
      error(error: TransportError): void {
        this.socket.emit("error", error);
      }
    };
    return new OutboxLink(this);
  }

  /** The current state; see {@link SocketState}. */
  get state(): SocketState {
    return this.currentState;
  }

  /** Always `false`: one connection for this socket alone (a {@link SharedSocket} is shared by tabs). */
  get shared(): false {
    return false;
  }

  /**
   * Starts connecting when `idle` (autoConnect off) or `stopped` (history forgotten); makes one attempt now
   * when `paused` by page signals. Otherwise does nothing.
   */
  connect(): void {
    const state = this.currentState;
    if (state === "stopped") this.planner.reset();
    // From `paused`: the app overrides the page signals (navigator.onLine is known to lie) for one attempt,
    // still through the breaker; if it fails, the socket pauses again.
    if (state === "idle" || state === "stopped" || state === "paused") this.attempt(state === "paused");
  }

  /**
   * Sends now when open (and nothing queued is still ahead of it); otherwise queues it (bounded) for the next
   * connection. Returns which happened; a discarded message is also reported by a `drop` event.
   */
  send(data: Out): SendResult {
    return this.outbox.send(data);
  }

  /**
   * Sends only if the connection is open right now and takes it; never queues, never reports a drop.
   * Returns whether it went. For state that the next connection re-sends whole anyway (presence sync): a
   * queued copy would only arrive stale, ahead of the fresh one.
   */
  sendNow(data: Out): boolean {
    return this.currentState === "open" && this.outbox.sendNow(data);
  }

  /**
   * Final, idempotent and total: aborts any attempt, clears every timer, reports queued messages as dropped
   * (reason `closed`), then removes every listener — including the AbortSignal's.
   */
  close(): Promise<void> {
    const previous = this.currentState;
    if (previous === "closed") {
      this.removeAllListeners();
      return Promise.resolve();
    }
    const hadConnection = previous === "open";
    this.currentState = "closed";
    this.teardownConnection();
    this.clearRetry();
    this.signals?.dispose();
    if (this.onAbort !== undefined) this.options.signal?.removeEventListener("abort", this.onAbort);
    this.outbox.clear();
    if (hadConnection) this.emit("close", { kind: "client", wasStable: this.stable });
    this.emit("state", "closed", previous);
    this.removeAllListeners();
    return Promise.resolve();
  }

  /** Counters and the policy's current view, for dashboards and tests; see {@link SocketStats}. */
  stats(): SocketStats {
    this.outbox.expire();
    return {
      state: this.currentState,
      failures: this.planner.failures,
      attempts: this.attempts,
      connections: this.connections,
      currentDelayMs: this.currentDelayMs,
      nextAttemptAt: this.nextAttemptAt,
      plannedAt: this.planner.plannedAt,
      lastHint: this.lastHint,
      circuit: this.planner.circuit,
      queue: { messages: this.outbox.size, bytes: this.outbox.bytes },
      unacked: this.options.delivery?.unacked ?? 0,
      dropped: this.droppedCount,
    };
  }

  private get closed(): boolean {
    return this.currentState === "closed";
  }

  /** The page as the planner sees it. */
  private get page(): PageState {
    const signals = this.signals;
    return signals === undefined ? PAGE_ACTIVE : { paused: signals.paused, slowdown: signals.slowdown };
  }

  /** The timer fired or the app asked (`override`: once, from a pause): the planner decides. */
  private attempt(override: boolean): void {
    this.clearTimer("retryTimer");
    this.follow(this.planner.next(this.clock.now(), this.page, override));
  }

  /** Starts a connection attempt (the planner said connect). */
  private open(probe: boolean): void {
    this.probe = probe;
    this.stable = false;
    this.attempts++;
    this.setState("connecting");
    if (this.closed) return;
    const id = ++this.attemptSeq;
    this.liveAttempt = id;
    // One object is the attempt's handlers and its transport context; its closures share one small scope.
    const attempt: ConnectionHandlers & TransportContext = {
      open: () => this.fromTransport(id, this.handleOpen),
      message: (data: unknown) => this.fromTransport(id, this.handleMessage, data),
      close: (info: CloseInfo) => this.fromTransport(id, this.handleClose, info),
      budget: (payload: unknown) => this.fromTransport(id, this.handleBudget, readBudget(payload)),
      now: () => this.clock.now(),
    };
    let connection: Connection;
    this.insideConnect = true;
    try {
      connection = this.options.transport.connect(attempt, attempt);
    } catch (cause) {
      this.insideConnect = false;
      this.liveAttempt = 0;
      // The real reason (an invalid url() result, a constructor's SyntaxError) belongs in the message.
      const message = `transport ${this.options.transport.name} threw while connecting: ${reasonOf(cause)}`;
      this.ended({ error: new TransportError(message, { cause }) });
      return;
    } finally {
      this.insideConnect = false;
    }
    // Closed from inside connect() (a url() function, a listener): the new connection has no socket to serve.
    if (this.closed) {
      closeQuietly(connection);
      return;
    }
    this.current = connection;
    // Shorter than connectTimeoutMs only for an attempt at a budget slot (the planner's attemptTimeoutMs).
    this.attemptStartedAt = this.clock.now();
    const timeoutMs = this.planner.attemptTimeoutMs(this.attemptStartedAt, this.options.connectTimeoutMs);
    this.options.debug?.({ event: "attempt", attempt: this.attempts, url: connection.url, probe });
    this.connectTimer = this.clock.setTimeout(() => {
      this.connectTimer = undefined;
      const message = `not open after ${timeoutMs} ms (connectTimeoutMs)`;
      this.ended({ error: new TimeoutError("CONNECT_TIMEOUT", message) });
    }, timeoutMs);
  }

  /**
   * Runs a transport's callback for attempt `id`, never one of an older attempt (no stale timeout or close
   * ever touches the next socket). Callbacks made synchronously from inside `connect()` run once it returned.
   */
  private fromTransport<A extends unknown[]>(
    id: number,
    handler: (this: ResilientSocket, ...args: A) => void,
    ...args: A
  ): void {
    if (this.insideConnect) queueMicrotask(() => id === this.liveAttempt && handler.apply(this, args));
    else if (id === this.liveAttempt) handler.apply(this, args);
  }

  private handleClose(info: CloseInfo): void {
    this.ended({ info });
  }

  private handleOpen(): void {
    this.clearTimer("connectTimer");
    this.planner.onOpened(this.clock.now() - this.attemptStartedAt);
    this.connections++;
    const failures = this.planner.failures;
    this.setState("open");
    // Queued messages go first; a listener that sent from the state event queued behind them.
    this.outbox.flush();
    if (this.currentState !== "open") return;
    this.liveness?.start();
    // Sleep detection only acts through the heartbeat; without one it would be a timer for nothing.
    if (this.liveness !== undefined) this.signals?.watchSleep(true);
    this.stableTimer = this.clock.setTimeout(() => {
      this.stableTimer = undefined;
      this.markStable();
    }, this.options.stableAfterMs);
    this.emit("open", { failures, probe: this.probe });
  }

  private handleMessage(data: unknown): void {
    if (this.liveness?.inbound(data)) return;
    if (isBudgetFrame(data)) {
      this.handleBudget(readBudgetFrame(data));
      return;
    }
    if (this.options.stableOnFirstMessage && !this.stable) this.markStable();
    const delivery = this.options.delivery?.inbound(data);
    if (typeof delivery === "string") this.emit("error", new TransportError(delivery));
    else if (!delivery) this.emit("message", data as In);
  }

  /** The server announced its reconnect budget (WebSocket first frame, Socket.IO event). */
  private handleBudget({ budget, problem }: BudgetReading): void {
    if (budget !== undefined) this.planner.onBudget(this.clock.now(), this.random, budget);
    if (problem !== undefined) this.emit("error", new HintError(problem));
  }

  /**
   * The one place a connection or attempt ends: the transport closed it (`info`), or this socket gave up on
   * it (`error`: connect timeout, dead heartbeat, a transport that threw). Decides through the planner.
   */
  private ended({ info, error }: { info?: CloseInfo; error?: ResilientReconnectError }): void {
    const wasOpen = this.currentState === "open";
    const wasStable = this.stable;
    this.teardownConnection();
    // Requeueing unacknowledged messages may report drops, whose listeners may close the socket.
    if (this.closed) return;
    const kind = info?.kind ?? "client";
    if (wasOpen)
      this.emit("close", { code: info?.code, reason: info?.reason ?? error?.message, kind, wasStable });
    const { errors, hint, stop } = closeOutcome(info, error, this.options);
    this.options.debug?.({ event: "outcome", kind, code: info?.code, error: errors[0]?.message, hint });
    // Until the planner has bounded it (below), stats() shows the hint as the server sent it.
    if (hint !== undefined) this.lastHint = hint;
    for (const e of errors) {
      if (this.closed) return;
      this.emit("error", e);
    }
    if (this.closed) return;
    if (stop) {
      this.stop();
      return;
    }
    const decision = this.planner.ended(this.clock.now(), this.random, wasStable, this.page, hint);
    // The hint as obeyed: cut to maxDelayMs, the same the retry event carries.
    if (decision.kind === "wait" && decision.retry?.hint !== undefined) this.lastHint = decision.retry.hint;
    if (decision.kind === "wait" && decision.problem !== undefined) {
      this.emit("error", new HintError(decision.problem));
      if (this.closed) return;
    }
    this.follow(decision);
  }

  /** The one arming path: acts on the planner's decision. */
  private follow(decision: Decision): void {
    this.syncCircuit();
    if (this.closed) return;
    switch (decision.kind) {
      case "connect":
        this.open(decision.probe);
        return;
      case "pause":
        this.options.debug?.({ event: "wait", delayMs: 0, cause: "paused" });
        this.clearRetry();
        this.setState("paused");
        return;
      case "stop":
        this.emit("error", new RetriesExhaustedError(decision.attempt));
        this.stop();
        return;
      case "wait": {
        this.clearTimer("retryTimer");
        const { delayMs, retry } = decision;
        this.currentDelayMs = delayMs;
        // A silent re-arm (no retry event) only ever waits on the open breaker.
        this.options.debug?.({
          event: "wait",
          delayMs,
          cause: retry === undefined || retry.cause === "circuit" ? "breaker" : retry.cause,
        });
        this.nextAttemptAt = this.clock.now() + delayMs;
        this.retryTimer = this.clock.setTimeout(() => {
          this.retryTimer = undefined;
          this.attempt(false);
        }, delayMs);
        this.setState(decision.circuitOpen ? "circuit-open" : "waiting");
        if (retry !== undefined && !this.closed) this.emit("retry", retry);
      }
    }
  }

  /** Offline, hidden or frozen pauses a pending wait; coming back is the planner's decision. */
  private signalsChanged(): void {
    const state = this.currentState;
    if (this.signals === undefined || (state !== "waiting" && state !== "circuit-open" && state !== "paused"))
      return;
    const decision = this.planner.pageChanged(this.clock.now(), this.random, this.page, state === "paused");
    if (decision !== undefined) this.follow(decision);
  }

  /** `pagehide`: let go of the connection (a page with an open socket cannot enter the bfcache). */
  private hide(): void {
    const state = this.currentState;
    if (state !== "open" && state !== "connecting") return;
    const wasStable = this.stable;
    // An abandoned attempt reports no outcome: if it was the breaker's probe, let the next one through.
    if (this.probe && !wasStable) this.planner.releaseProbe();
    this.probe = false;
    this.teardownConnection();
    if (state === "open") this.emit("close", { kind: "client", wasStable });
    if (this.closed) return;
    this.follow(this.planner.hidden(this.clock.now()));
  }

  private markStable(): void {
    this.clearTimer("stableTimer");
    if (this.stable) return;
    this.stable = true;
    this.planner.onStable(this.clock.now());
    this.syncCircuit();
  }

  private transmit(wire: unknown): boolean {
    const connection = this.current;
    if (connection === undefined || this.currentState !== "open") return false;
    connection.send(wire);
    return true;
  }

  /**
   * Stops retrying (state `stopped`), letting go of any connection or attempt; `connect()` starts again with
   * a fresh history. Protected: `io()`'s `socket.disconnect()` is this.
   */
  protected stop(): void {
    this.teardownConnection();
    this.clearRetry();
    this.setState("stopped");
  }

  private teardownConnection(): void {
    this.clearTimer("connectTimer");
    this.clearTimer("stableTimer");
    this.liveness?.stop();
    this.signals?.watchSleep(false);
    const connection = this.current;
    this.current = undefined;
    this.liveAttempt = 0;
    if (connection !== undefined) closeQuietly(connection);
    this.outbox.requeueUnacked();
  }

  private clearRetry(): void {
    this.clearTimer("retryTimer");
    this.currentDelayMs = undefined;
    this.nextAttemptAt = undefined;
  }

  private clearTimer(name: "retryTimer" | "connectTimer" | "stableTimer"): void {
    const handle = this[name];
    if (handle !== undefined) this.clock.clearTimeout(handle);
    this[name] = undefined;
  }

  private syncCircuit(): void {
    const state = this.planner.circuit;
    if (state === this.lastCircuit) return;
    this.lastCircuit = state;
    const reopensAt = this.planner.reopensAt;
    this.options.debug?.({ event: "circuit", state, reopensAt });
    this.emit("circuit", reopensAt === undefined ? { state } : { state, reopensAt });
  }

  /** Nothing leaves `closed`: a listener that closed the socket mid-step wins over the step. */
  private setState(state: SocketState): void {
    const previous = this.currentState;
    if (previous === state || previous === "closed") return;
    this.currentState = state;
    this.options.debug?.({ event: "state", state, previous });
    this.emit("state", state, previous);
  }
}

function closeQuietly(connection: Connection): void {
  try {
    connection.close();
  } catch {
    // A transport that throws while closing has nothing left for us to release.
  }
}

/** A thrown value's message, bounded: a transport's error may quote a long URL. */
function reasonOf(thrown: unknown): string {
  let text: string;
  try {
    text = thrown instanceof Error ? String(thrown.message) : String(thrown);
  } catch {
    text = "(a value that cannot be printed)";
  }
  return text.length > 256 ? `${text.slice(0, 256)}…` : text;
}
