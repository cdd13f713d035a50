/**
 * Browser stand-ins for tab-sharing tests on the virtual clock: an in-memory lock manager (a FIFO, as Web Locks
 * grants an exclusive lock), an in-memory BroadcastChannel, and a page whose pagehide/pageshow the test fires.
 * The channel comes in two kinds: synchronous (delivery inside postMessage: the simplest order) and
 * asynchronous (delivery only when the test lets it, after the poster's synchronous work and in post order,
 * as a browser delivers on a later task) — races between tabs only show on the second.
 */
import type { BroadcastChannelLike, LockManagerLike } from "../../src/index.js";

export class Locks implements LockManagerLike {
  private readonly queue: { run: () => Promise<void>; signal?: AbortSignal; reject: (e: unknown) => void }[] =
    [];
  private held = false;
  request(_name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>) {
    return new Promise<unknown>((resolve, reject) => {
      const entry = {
        run: () => callback().then(resolve, reject),
        reject,
        ...(options.signal ? { signal: options.signal } : {}),
      };
      options.signal?.addEventListener("abort", () => {
        const at = this.queue.indexOf(entry);
        if (at >= 0) {
          this.queue.splice(at, 1);
          reject(new Error("aborted"));
        }
      });
      this.queue.push(entry);
      // As navigator.locks does, the callback runs later, never inside request().
      queueMicrotask(() => this.grant());
    });
  }
  private grant() {
    if (this.held) return;
    const next = this.queue.shift();
    if (next === undefined) return;
    this.held = true;
    void next.run().finally(() => {
      this.held = false;
      this.grant();
    });
  }
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
