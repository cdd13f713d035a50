/**
 * A typed event emitter in the spirit of nanoevents: small, and a listener that throws can never corrupt the
 * socket's state machine halfway through a transition — its error is rethrown on a fresh microtask (so it
 * still reaches the platform's uncaught-error reporting) while the other listeners and the socket carry on.
 * @see https://github.com/ai/nanoevents
 */
// biome-ignore lint/suspicious/noExplicitAny: listener parameter lists are checked through the event map.
export type Listener = (...args: any[]) => void;

export class Emitter<Events extends { [E in keyof Events]: Listener }> {
  private listeners: { [E in keyof Events]?: Events[E][] } = {};

  /** Adds a listener. Returns the function that removes it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    if (typeof listener !== "function")
      throw new TypeError(`listener for "${String(event)}" must be a function`);
    const list = this.listeners[event] ?? [];
    list.push(listener);
    this.listeners[event] = list;
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs once. Returns the function that removes it. */
  once<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    const off = this.on(event, ((...args: Parameters<Events[E]>) => {
      off();
      listener(...args);
    }) as Events[E]);
    return off;
  }

  /** Removes a listener (or, without one, every listener of the event). */
  off<E extends keyof Events>(event: E, listener?: Events[E]): void {
    const list = this.listeners[event];
    if (list === undefined) return;
    const kept = listener === undefined ? [] : list.filter((l) => l !== listener);
    if (kept.length === 0) delete this.listeners[event];
    else this.listeners[event] = kept;
  }

  /** Removes every listener of every event. */
  removeAllListeners(): void {
    this.listeners = {};
  }

  listenerCount(event: keyof Events): number {
    return this.listeners[event]?.length ?? 0;
  }

  /** Events that have at least one listener. */
  eventNames(): (keyof Events)[] {
    return Object.keys(this.listeners) as (keyof Events)[];
  }

  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const list = this.listeners[event];
    if (list === undefined) return;
    for (const listener of [...list]) {
      try {
        listener(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
