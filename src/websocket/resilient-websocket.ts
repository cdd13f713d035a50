/**
 * ResilientWebSocket: the WHATWG `WebSocket` surface over a {@link ResilientSocket}, so code written against
 * `WebSocket` (ShareDB's client, y-websocket, graphql-ws, STOMP) gets our reconnect policy by changing one
 * import, as with reconnecting-websocket and partysocket. No policy lives here: hints, breaker, flap damping,
 * page signals, the bounded queue and the AbortSignal are the socket's; this file only translates.
 *
 * What a consumer sees: each connection attempt looks like one WebSocket — `open` when it opens, `error`
 * (when it failed) and one `close` when it ends (opened or not) — and the next attempt, when the policy
 * allows it, is `CONNECTING` again and then `open`. `close()` is final: one last `close` event (dispatched
 * before it returns), then nothing.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 * @see https://github.com/pladaria/reconnecting-websocket (the drop semantics it made common)
 */
import type { CloseEvent as DropEvent, RetryEvent, SendResult } from "../client/events.js";
import { type ResilientSocketOptions, resolveOptions } from "../client/options.js";
import { ResilientSocket } from "../client/resilient-socket.js";
import { webSocketUrlProblem } from "../transports/url.js";
import {
  type WebSocketConstructor,
  type WebSocketLike,
  webSocketTransport,
} from "../transports/websocket.js";
import { closeEvent, SocketErrorEvent } from "./dom-events.js";
import { CLOSED, CLOSING, CONNECTING, checkClose, OPEN, type ReadyState, WebSocketFace } from "./face.js";

/** Options of {@link ResilientWebSocket}: those of `ResilientSocket` (except `transport`), and the constructor. */
export interface ResilientWebSocketOptions extends Omit<ResilientSocketOptions, "transport"> {
  /** The WebSocket constructor. Default `globalThis.WebSocket`; on Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
}

/** A retry the policy scheduled: the `retry` event's fields and when the attempt fires (clock ms). */
export type RetryInfo = RetryEvent & {
  /** When the attempt fires, in the socket's clock's milliseconds (`Date.now()` unless a `clock` is given). */
  readonly at: number;
};

/** The parts of the platform socket read for the WHATWG surface (all of them on both `ws` and DOM sockets). */
interface RawSocket extends WebSocketLike {
  readonly url?: string;
  readonly protocol?: string;
  readonly extensions?: string;
  readonly bufferedAmount?: number;
}

/**
 * A reconnecting, WHATWG-compatible WebSocket on the `ResilientSocket` policy.
 * `new ResilientWebSocket(url | () => url, protocols?, options?)`.
 */
export class ResilientWebSocket extends WebSocketFace {
  /** The policy-first socket underneath: `state`, `stats()`, its `retry`, `circuit` and `drop` events. */
  readonly resilient: ResilientSocket;
  /** The platform socket of the current (or last) attempt. */
  private raw: RawSocket | undefined;
  private kind: BinaryType = "blob";
  private readonly startsAtOnce: boolean;
  private lastUrl: string;
  private origin = "";
  /** Set by `close()` (or an abort): the final close event, not yet dispatched. */
  private ending: { code: number; reason: string } | undefined;
  private ended = false;
  /** `reconnect()` is closing the open connection; the policy takes over once it has closed. */
  private cutting = false;
  /** The connection dropped (its close event is out) and no other has opened yet. */
  private down = false;
  private lastError = "";
  private lastRetry: RetryEvent | undefined;

  /**
   * @param url `ws:`/`wss:` URL, or a function called before every attempt (e.g. for a fresh token).
   * @param protocols Subprotocols, as for `WebSocket`.
   * @param options The `ResilientSocket` options (policy, queue, signal, clock…) and `WebSocket`.
   * @throws TypeError / RangeError naming the option, as `ResilientSocket` and `webSocketTransport` do.
   */
  constructor(
    url: string | URL | (() => string | URL),
    protocols?: string | string[],
    options: ResilientWebSocketOptions = {},
  ) {
    super();
    // Named as the app wrote it (`new ResilientWebSocket("not a url")`), not as the transport underneath.
    const problem =
      typeof url === "string" || url instanceof URL
        ? webSocketUrlProblem("ResilientWebSocket", url)
        : undefined;
    if (problem !== undefined) throw new TypeError(problem);
    const { WebSocket: given, ...rest } = options ?? {};
    const Base = given ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const self = this;
    // A subclass records each attempt's socket (for protocol, extensions, bufferedAmount and close codes) and
    // keeps the base's prototype, so the transport still recognises `ws` and reads its refused handshakes.
    const Recorded =
      typeof Base === "function"
        ? class extends Base {
            constructor(address: string, subprotocols?: string | string[]) {
              super(address, subprotocols);
              self.raw = this;
            }
          }
        : Base;
    this.lastUrl = typeof url === "function" ? "" : String(url);
    this.startsAtOnce = rest.autoConnect !== false;
    const policy = {
      ...rest,
      transport: webSocketTransport({ url, protocols, WebSocket: Recorded as WebSocketConstructor }),
    };
    // Checked first under the name the app called (the socket underneath would say ResilientSocket).
    resolveOptions(policy, "ResilientWebSocket");
    const socket = new ResilientSocket(policy);
    this.resilient = socket;
    // Made with an already-aborted signal: closed from the start, before any listener could be added.
    this.ended = socket.state === "closed";
    socket
      .on("open", () => this.opened())
      .on("message", (data) => this.dispatchEvent(new MessageEvent("message", { data, origin: this.origin })))
      .on("close", (event) => this.dropped(event))
      .on("error", (error) => {
        this.lastError = error.message;
        this.dispatchEvent(new SocketErrorEvent(error));
      })
      .on("retry", (event) => {
        this.lastRetry = event;
      })
      .on("state", (state, previous) => {
        if (state === "closed") this.finish();
        // An attempt that ended without opening is, to a WebSocket consumer, a socket that failed.
        else if (previous === "connecting" && state !== "open") this.dropped({});
      });
  }

  /**
   * `CONNECTING` while an attempt is in flight (and before the first); `OPEN` when connected; `CLOSING` while
   * `reconnect()` closes it; `CLOSED` between attempts, once stopped, and after `close()`.
   */
  get readyState(): ReadyState {
    if (this.ended) return CLOSED;
    const state = this.resilient.state;
    if (state === "open") return this.down ? CLOSED : this.cutting ? CLOSING : OPEN;
    if (state === "connecting" || (state === "idle" && this.startsAtOnce)) return CONNECTING;
    return state === "closed" ? CLOSING : CLOSED;
  }

  /** The URL of the current (or last) attempt; before the first one, the URL given (`""` for a function). */
  get url(): string {
    return this.raw?.url ?? this.lastUrl;
  }

  /** The subprotocol the server chose on the current (or last) connection, else `""`. */
  get protocol(): string {
    return this.raw?.protocol ?? "";
  }

  /** The extensions the server chose on the current (or last) connection, else `""`. */
  get extensions(): string {
    return this.raw?.extensions ?? "";
  }

  /** How binary messages arrive: `"blob"` (the WHATWG default) or `"arraybuffer"`. */
  get binaryType(): BinaryType {
    return this.kind;
  }
  /** Sets how binary messages arrive, now and on every later connection; any other value is ignored. */
  set binaryType(value: BinaryType) {
    if (value !== "blob" && value !== "arraybuffer") return;
    this.kind = value;
    if (this.raw !== undefined) this.raw.binaryType = value;
  }

  /** Bytes waiting: queued by the policy while disconnected, plus those the open socket has not sent yet. */
  get bufferedAmount(): number {
    const socketBytes = this.resilient.state === "open" ? (this.raw?.bufferedAmount ?? 0) : 0;
    return socketBytes + this.resilient.stats().queue.bytes;
  }

  /** Consecutive failed attempts since the last stable connection (0 once one was stable). */
  get retryCount(): number {
    return this.resilient.stats().failures;
  }

  /** The retry the policy scheduled (why, how long, when it fires), while one is pending. */
  get retry(): RetryInfo | undefined {
    const at = this.resilient.stats().nextAttemptAt;
    return at === undefined || this.lastRetry === undefined ? undefined : { ...this.lastRetry, at };
  }

  /**
   * Sends now when open; otherwise queues it (bounded, option `queue`) for the next connection, or drops it
   * with `queue: false`. Strings and binary data go as they are, anything else as JSON. Returns which.
   */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): SendResult {
    return this.resilient.send(data);
  }

  /**
   * Final: closes the connection with `code` (1000 or 3000–4999) and `reason` (≤ 123 bytes), stops every
   * retry and timer, and dispatches one last `close` event before it returns (`readyState` is then
   * `CLOSED`). Idempotent: a second call, also from a close listener, does nothing.
   * @throws DOMException `InvalidAccessError` / `SyntaxError` for a code or reason a WebSocket would refuse.
   */
  close(code?: number, reason?: string): void {
    checkClose(code, reason);
    if (this.ending !== undefined || this.ended) return;
    this.ending = { code: code ?? 1000, reason: reason ?? "" };
    const raw = this.raw;
    if (raw !== undefined && this.resilient.state === "open") closeQuietly(raw, code ?? 1000, reason);
    void this.resilient.close();
  }

  /**
   * Connects again through the policy. Open: closes this connection (with `code`, `reason`) and the policy
   * schedules the next attempt as after any drop. Stopped, not started or paused: starts an attempt. While an
   * attempt or a wait is in progress: nothing (it never cuts a wait short). After `close()`: nothing.
   */
  reconnect(code?: number, reason?: string): void {
    checkClose(code, reason);
    const state = this.resilient.state;
    const raw = this.raw;
    if (state === "open" && raw !== undefined) {
      if (this.cutting) return;
      this.cutting = true;
      // Not 1000: a normal closure reads as the server meaning it, which stops the policy.
      closeQuietly(raw, code ?? 4000, reason ?? "reconnect");
    } else this.resilient.connect();
  }

  private opened(): void {
    this.cutting = false;
    this.down = false;
    const raw = this.raw;
    if (raw !== undefined) {
      raw.binaryType = this.kind;
      this.origin = originOf(raw.url ?? this.lastUrl);
    }
    this.dispatchEvent(new Event("open"));
  }

  private dropped(event: Pick<DropEvent, "code" | "reason">): void {
    if (this.resilient.state === "closed") return;
    this.cutting = false;
    this.down = true;
    const code = event.code ?? 1006;
    const reason = event.reason ?? this.lastError;
    this.lastError = "";
    this.dispatchEvent(closeEvent({ code, reason, wasClean: code !== 1006 }));
  }

  /**
   * The socket reached `closed` (by `close()` or the AbortSignal): one last close event, dispatched before
   * `close()` returns, so an app that detaches its listeners right after still saw it (partysocket does the
   * same, for that reason).
   */
  private finish(): void {
    this.ending ??= { code: 1000, reason: "" };
    const { code, reason } = this.ending;
    this.ended = true;
    this.dispatchEvent(closeEvent({ code, reason, wasClean: true }));
  }
}

function closeQuietly(raw: RawSocket, code: number, reason: string | undefined): void {
  try {
    raw.close(code, reason);
  } catch {
    // A socket already closing has nothing left to close.
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "";
  }
}
