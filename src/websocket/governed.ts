/**
 * For consumers that run their own reconnect loop and make a new WebSocket per connection — graphql-ws
 * (`webSocketImpl`), y-websocket (`WebSocketPolyfill`), STOMP (`webSocketFactory`). Handing them a socket
 * that reconnects by itself would add a connection per drop: they drop their reference on `close` and make
 * another, while the old one keeps reconnecting. So here every instance is one connection, as a native
 * WebSocket is, and one shared {@link ResilientWebSocket} decides *when* each connects: an instance created
 * before the policy allows the next attempt stays `CONNECTING` until it does (the consumer's own backoff can
 * only add to ours), and a connection the policy opened before the consumer asked is held, its messages
 * kept (bounded), until the next instance takes it.
 */
import { messageBytes } from "../client/queue.js";
import { systemClock, type TimerHandle } from "../env.js";
import { numberOption } from "../options-check.js";
import { closeEvent, SocketErrorEvent } from "./dom-events.js";
import { CLOSED, CLOSING, CONNECTING, checkClose, OPEN, type ReadyState, WebSocketFace } from "./face.js";
import { ResilientWebSocket, type ResilientWebSocketOptions } from "./resilient-websocket.js";

/**
 * Options of {@link governedWebSocket}: those of {@link ResilientWebSocket} (with `reconnectOnServerClose` and
 * `retryOnRefusal` on by default: the policy paces every attempt and never stops by itself), and when to let go.
 */
export interface GovernedWebSocketOptions extends ResilientWebSocketOptions {
  /**
   * With no instance using the connection for this long (the consumer stopped making sockets), the shared
   * connection is closed for good; the next instance starts a fresh one. Default 30,000 ms.
   */
  releaseAfterMs?: number;
  /** Most messages held for the next instance while none is open; beyond it the held connection is cut. Default 1000. */
  maxHeldMessages?: number;
  /** Most bytes held likewise (UTF-8 for text, byte length for binary). Default 1 MiB. */
  maxHeldBytes?: number;
}

/** A WebSocket constructor whose instances share one policy (see {@link governedWebSocket}). */
export interface GovernedWebSocketClass {
  new (url: string | URL, protocols?: string | string[]): GovernedWebSocket;
  /** `CONNECTING` (0), as on `WebSocket`. */
  readonly CONNECTING: 0;
  /** `OPEN` (1), as on `WebSocket`. */
  readonly OPEN: 1;
  /** `CLOSING` (2), as on `WebSocket`. */
  readonly CLOSING: 2;
  /** `CLOSED` (3), as on `WebSocket`. */
  readonly CLOSED: 3;
  /** The shared policy socket, while there is one (its `resilient` has `stats()` and the policy's events). */
  readonly current: ResilientWebSocket | undefined;
  /** Ends the instance in use and closes the shared connection for good; no timer is left. */
  closeAll(): void;
}

/**
 * Makes a WebSocket class for a consumer with its own reconnect loop: `webSocketImpl: governedWebSocket({
 * WebSocket })`. Each class has one policy; make one per server the app talks to.
 * @throws TypeError / RangeError naming the option, as {@link ResilientWebSocket} does (on first use).
 */
export function governedWebSocket(options: GovernedWebSocketOptions = {}): GovernedWebSocketClass {
  const {
    releaseAfterMs = 30_000,
    maxHeldMessages = 1000,
    maxHeldBytes = 1024 * 1024,
    ...socketOptions
  } = options ?? {};
  for (const [name, value] of [
    ["releaseAfterMs", releaseAfterMs],
    ["maxHeldMessages", maxHeldMessages],
    ["maxHeldBytes", maxHeldBytes],
  ] as const)
    numberOption("governedWebSocket", name, value, 0, { exclusiveMin: true });
  // The shared policy never stops by itself: a consumer that makes its next socket at once would otherwise
  // restart a stopped policy (history forgotten) in a loop against a server that refuses or closes with 1000.
  const policy = { reconnectOnServerClose: true, retryOnRefusal: true, ...socketOptions };
  const shared = new Shared(policy, releaseAfterMs, { messages: maxHeldMessages, bytes: maxHeldBytes });
  return class extends GovernedWebSocket {
    static get current(): ResilientWebSocket | undefined {
      return shared.core;
    }
    static closeAll(): void {
      shared.closeAll();
    }
    constructor(url: string | URL, protocols?: string | string[]) {
      super(shared, url, protocols);
    }
  };
}

/** @internal The policy every instance of one class shares, and which instance has the connection. */
export class Shared {
  core: ResilientWebSocket | undefined;
  view: GovernedWebSocket | undefined;
  url = "";
  /** Messages of a connection that opened while no instance wanted it; undefined when none is held. */
  held: unknown[] | undefined;
  private heldBytes = 0;
  private releaseTimer: TimerHandle | undefined;
  private readonly clock: NonNullable<ResilientWebSocketOptions["clock"]>;

  constructor(
    private readonly options: ResilientWebSocketOptions,
    private readonly releaseAfterMs: number,
    private readonly maxHeld: { readonly messages: number; readonly bytes: number },
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** A new instance takes over from the previous one (which ends silently) and gets the next connection. */
  attach(view: GovernedWebSocket, url: string, protocols: string | string[] | undefined): void {
    this.url = url;
    const previous = this.view;
    this.view = view;
    previous?.end(undefined);
    this.clearRelease();
    let core = this.core;
    if (core === undefined) {
      core = new ResilientWebSocket(() => this.url, protocols, this.options);
      this.core = core;
      this.listen(core);
    }
    // After the event being dispatched (a consumer makes its next socket from the last one's close listener,
    // before the policy has decided what comes next), and after the consumer attached its handlers.
    queueMicrotask(() => {
      const current = this.core;
      if (this.view !== view || !view.waiting || current === undefined) return;
      const state = current.resilient.state;
      if (current.readyState === OPEN) this.hand(view);
      else if (state === "stopped" || state === "idle" || state === "paused") current.reconnect();
    });
  }

  /** The instance ended (a drop, or its own close): nobody uses the connection until the next one. */
  detach(view: GovernedWebSocket): void {
    if (this.view !== view) return;
    this.view = undefined;
    this.clearRelease();
    this.releaseTimer = this.clock.setTimeout(() => {
      this.releaseTimer = undefined;
      this.closeCore();
    }, this.releaseAfterMs);
  }

  closeAll(): void {
    this.view?.end({ code: 1000, reason: "", wasClean: true });
    this.view = undefined;
    this.clearRelease();
    this.closeCore();
  }

  private hand(view: GovernedWebSocket): void {
    const held = this.held ?? [];
    this.held = undefined;
    view.opened();
    for (const data of held) if (this.view === view) view.message(data);
  }

  private listen(core: ResilientWebSocket): void {
    core.addEventListener("open", () => {
      const view = this.view;
      if (view?.waiting) view.opened();
      else {
        this.held = [];
        this.heldBytes = 0;
      }
    });
    core.addEventListener("message", (event) => {
      const data = (event as MessageEvent).data;
      const view = this.view;
      if (view !== undefined && !view.waiting && this.held === undefined) view.message(data);
      else if (this.held !== undefined) {
        this.held.push(data);
        this.heldBytes += messageBytes(data);
        // A server that talks to nobody (or floods before the consumer is back) cannot grow memory.
        if (this.held.length > this.maxHeld.messages || this.heldBytes > this.maxHeld.bytes) {
          this.held = undefined;
          core.reconnect(4000, "no consumer");
        }
      }
    });
    core.addEventListener("error", (event) => {
      const view = this.view;
      if (view !== undefined && !view.waiting)
        view.dispatchEvent(new SocketErrorEvent((event as SocketErrorEvent).error));
    });
    core.addEventListener("close", (event) => {
      const { code, reason, wasClean } = event as CloseEvent;
      this.held = undefined;
      const view = this.view;
      const gone = core.resilient.state === "closed" || core.resilient.state === "stopped";
      if (core.resilient.state === "closed") this.core = undefined;
      // An attempt that failed is, for an instance still waiting, a WebSocket that takes longer to connect,
      // unless the policy stopped (a refusal, maxAttempts): then its consumer decides.
      if (view !== undefined && (!view.waiting || gone)) view.end({ code, reason, wasClean });
    });
  }

  private closeCore(): void {
    const core = this.core;
    this.core = undefined;
    this.held = undefined;
    core?.close();
  }

  private clearRelease(): void {
    if (this.releaseTimer !== undefined) this.clock.clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
  }
}

/** One connection of a {@link governedWebSocket} class: a WHATWG WebSocket to its consumer. */
export class GovernedWebSocket extends WebSocketFace {
  private phase: "waiting" | "open" | "ended" = "waiting";
  private kind: BinaryType = "blob";
  private readonly givenUrl: string;

  /** Use the class {@link governedWebSocket} returns. */
  constructor(
    private readonly shared: Shared,
    url: string | URL,
    protocols?: string | string[],
  ) {
    super();
    this.givenUrl = String(url);
    shared.attach(this, this.givenUrl, protocols);
  }

  /** Waiting for the policy to connect. */
  get waiting(): boolean {
    return this.phase === "waiting";
  }

  /** `CONNECTING` until the policy connects it, `OPEN`, then `CLOSED` (final, as for a WebSocket). */
  get readyState(): ReadyState {
    if (this.phase === "waiting") return CONNECTING;
    if (this.phase === "ended") return CLOSED;
    return this.shared.core?.readyState === CLOSING ? CLOSING : OPEN;
  }

  /** The URL this instance was created with. */
  get url(): string {
    return this.givenUrl;
  }

  /** The subprotocol the server chose, while open. */
  get protocol(): string {
    return this.phase === "open" ? (this.shared.core?.protocol ?? "") : "";
  }

  /** The extensions the server chose, while open. */
  get extensions(): string {
    return this.phase === "open" ? (this.shared.core?.extensions ?? "") : "";
  }

  /** How binary messages arrive: `"blob"` (the WHATWG default) or `"arraybuffer"`. */
  get binaryType(): BinaryType {
    return this.kind;
  }
  /** Sets how binary messages arrive on this instance's connection; any other value is ignored. */
  set binaryType(value: BinaryType) {
    if (value !== "blob" && value !== "arraybuffer") return;
    this.kind = value;
    const core = this.shared.core;
    if (this.phase === "open" && core !== undefined) core.binaryType = value;
  }

  /** Bytes the open connection has not sent yet. */
  get bufferedAmount(): number {
    return this.phase === "open" ? (this.shared.core?.bufferedAmount ?? 0) : 0;
  }

  /**
   * Sends on the open connection. As a WebSocket: throws `InvalidStateError` while `CONNECTING`, and
   * discards what is sent once `CLOSED`.
   */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.phase === "waiting") throw new DOMException("still CONNECTING", "InvalidStateError");
    if (this.phase === "open") this.shared.core?.send(data);
  }

  /**
   * Ends this instance with one `close` event (before it returns). An open connection is closed with
   * `code`/`reason`; the shared policy then waits as after any drop before the next instance connects.
   */
  close(code?: number, reason?: string): void {
    checkClose(code, reason);
    if (this.phase === "ended") return;
    const core = this.shared.core;
    if (this.phase === "open" && core !== undefined && core.readyState === OPEN) {
      core.reconnect(code, reason);
    }
    this.end({ code: code ?? 1000, reason: reason ?? "", wasClean: true });
  }

  /** @internal The policy connected it. */
  opened(): void {
    if (this.phase !== "waiting") return;
    this.phase = "open";
    const core = this.shared.core;
    if (core !== undefined) core.binaryType = this.kind;
    this.dispatchEvent(new Event("open"));
  }

  /** @internal */
  message(data: unknown): void {
    if (this.phase === "open") this.dispatchEvent(new MessageEvent("message", { data }));
  }

  /** @internal Final: one close event (none when superseded by a newer instance), then nothing. */
  end(fields: { code: number; reason: string; wasClean: boolean } | undefined): void {
    if (this.phase === "ended") return;
    this.phase = "ended";
    this.shared.detach(this);
    if (fields !== undefined) this.dispatchEvent(closeEvent(fields));
  }
}
