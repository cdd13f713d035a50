/**
 * Browser stand-ins for tab-sharing tests on the virtual clock: an in-memory lock manager (a FIFO per name, as
 * Web Locks grants an exclusive lock, with `query()` and `steal`), an in-memory BroadcastChannel, and a page whose pagehide/pageshow the test fires.
 * The channel comes in two kinds: synchronous (delivery inside postMessage: the simplest order) and
 * asynchronous (delivery only when the test lets it, after the poster's synchronous work and in post order,
 * as a browser delivers on a later task) — races between tabs only show on the second.
 */
import { provenTerm } from "../../src/client/shared-term.js";
import type { BroadcastChannelLike, LockManagerLike } from "../../src/index.js";

interface Request {
  readonly clientId: string;
  readonly run: () => Promise<void>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
}

/**
 * The browser's lock manager, shared by every context of an origin: one FIFO per lock name, as Web Locks grants
 * an exclusive lock, `steal`, and `query()` naming each held lock's `clientId`. Each tab gets its own
 * `navigator.locks` from {@link Locks.client}: what it holds is held in its own client id's name.
 */
export class Locks {
  private readonly held = new Map<string, Request>();
  private readonly queues = new Map<string, Request[]>();
  private clients = 0;

  /** One context's `navigator.locks` (a tab, a frame, a hostile script's). */
  client(clientId = `client-${++this.clients}`): LockManagerLike & {
    request(
      name: string,
      options: { signal?: AbortSignal; steal?: boolean },
      callback: () => Promise<void>,
    ): Promise<unknown>;
  } {
    return {
      request: (name, options, callback) => this.request(clientId, name, options, callback),
      query: () => Promise.resolve(this.snapshot()),
    };
  }

  /** What `navigator.locks.query()` shows. */
  snapshot() {
    return {
      held: [...this.held].map(([name, request]) => ({
        name,
        mode: "exclusive",
        clientId: request.clientId,
      })),
      pending: [...this.queues].flatMap(([name, queue]) =>
        queue.map((request) => ({ name, mode: "exclusive", clientId: request.clientId })),
      ),
    };
  }

  private request(
    clientId: string,
    name: string,
    options: { signal?: AbortSignal; steal?: boolean },
    callback: () => Promise<void>,
  ): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const entry: Request = {
        clientId,
        settled: false,
        resolve: (value) => {
          if (!entry.settled) resolve(value);
          entry.settled = true;
        },
        reject: (error) => {
          if (!entry.settled) reject(error);
          entry.settled = true;
        },
        run: () => callback(),
      };
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      options.signal?.addEventListener("abort", () => {
        const at = queue.indexOf(entry);
        if (at >= 0) {
          queue.splice(at, 1);
          entry.reject(new Error("AbortError"));
        }
      });
      if (options.steal === true) {
        // The holder's request fails; its callback runs on, but the lock is no longer its.
        this.held.get(name)?.reject(new Error("AbortError: stolen"));
        this.held.delete(name);
        queue.unshift(entry);
      } else queue.push(entry);
      // As navigator.locks does, the callback runs later, never inside request().
      queueMicrotask(() => this.grant(name));
    });
  }

  private grant(name: string) {
    if (this.held.has(name)) return;
    const next = this.queues.get(name)?.shift();
    if (next === undefined) return;
    this.held.set(name, next);
    void next
      .run()
      .then(next.resolve, next.reject)
      .finally(() => {
        if (this.held.get(name) !== next) return;
        this.held.delete(name);
        this.grant(name);
      });
  }
}

/** The leader term of the app `name` as any same-origin script can read it: from the lock names. */
export function currentTerm(locks: Locks, name = "app"): string {
  const term = provenTerm(locks.snapshot(), `resilient-reconnect:${name}`, name);
  if (term === undefined) throw new Error(`no leader term of ${name} is held`);
  return term;
}

export type Endpoint = BroadcastChannelLike & { name: string };

/** Delivers to every other open endpoint of the same name: at once, or (async) when the test lets it. */
export class Channels {
  private readonly open = new Set<Endpoint>();
  private readonly queue: (() => void)[] = [];
  constructor(private readonly async: boolean) {}
  create = (name: string): Endpoint => {
    const endpoint: Endpoint = {
      name,
      onmessage: null,
      postMessage: (message: unknown) => {
        if (!this.open.has(endpoint)) throw new Error("InvalidStateError: channel closed");
        const data = structuredClone(message);
        const targets = [...this.open].filter((other) => other !== endpoint && other.name === name);
        const deliver = () => {
          for (const target of targets)
            if (this.open.has(target)) target.onmessage?.({ data: structuredClone(data) } as MessageEvent);
        };
        if (this.async) this.queue.push(deliver);
        else deliver();
      },
      close: () => void this.open.delete(endpoint),
    };
    this.open.add(endpoint);
    return endpoint;
  };
  /** Async: delivers the oldest message not yet delivered; false when there is none. */
  deliverNext(): boolean {
    const next = this.queue.shift();
    next?.();
    return next !== undefined;
  }
  get openEndpoints(): number {
    return this.open.size;
  }
}

/** A page (window) whose pagehide/pageshow the test fires, counting its listeners. */
export class Page extends EventTarget {
  listeners = 0;
  override addEventListener(type: string, listener: EventListener) {
    this.listeners++;
    super.addEventListener(type, listener);
  }
  override removeEventListener(type: string, listener: EventListener) {
    this.listeners--;
    super.removeEventListener(type, listener);
  }
}
