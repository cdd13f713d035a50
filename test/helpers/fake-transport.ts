/**
 * An in-process transport the test drives by hand: every `connect` call is recorded as an attempt whose
 * handlers the test invokes (open, message, close), so client behaviour can be checked on the virtual clock
 * without sockets. Integration tests use real servers instead.
 */
import type {
  CloseInfo,
  Connection,
  ConnectionHandlers,
  Transport,
  TransportContext,
} from "../../src/index.js";

export interface FakeAttempt {
  readonly at: number;
  readonly handlers: ConnectionHandlers;
  readonly context: TransportContext;
  readonly sent: unknown[];
  closedByClient: boolean;
  open(): void;
  message(data: unknown): void;
  close(info?: Partial<CloseInfo>): void;
}

export class FakeTransport implements Transport {
  readonly name = "fake";
  readonly attempts: FakeAttempt[] = [];
  /** When set, connect() throws this. */
  throwOnConnect: unknown;
  /** When set, every send() throws (a socket that is already closing). */
  refuseSends = false;
  /** The transport's encode step, when a test wants one. */
  encode: ((data: unknown) => unknown) | undefined;

  constructor(private readonly now: () => number) {}

  get last(): FakeAttempt {
    const attempt = this.attempts.at(-1);
    if (attempt === undefined) throw new Error("no attempt was made");
    return attempt;
  }

  /** Connections the client has not closed and the test has not closed: must never exceed 1. */
  live = 0;

  connect(handlers: ConnectionHandlers, context: TransportContext): Connection {
    if (this.throwOnConnect !== undefined) throw this.throwOnConnect;
    let finished = false;
    this.live++;
    const finish = () => {
      if (!finished) this.live--;
      finished = true;
    };
    const attempt: FakeAttempt = {
      at: this.now(),
      handlers,
      context,
      sent: [],
      closedByClient: false,
      open: () => handlers.open(),
      message: (data) => handlers.message(data),
      close: (info) => {
        finish();
        handlers.close({ kind: "error", ...info });
      },
    };
    this.attempts.push(attempt);
    return {
      send: (data) => {
        if (finished || this.refuseSends) throw new Error("closed");
        attempt.sent.push(data);
      },
      close: () => {
        attempt.closedByClient = true;
        finish();
      },
    };
  }
}
