/**
 * The listener API of every event source here (`ResilientSocket`, `SharedSocket`, `Presence`,
 * `SharedPresence`, `ResilientWebSocket`): eventemitter3 underneath, the conventional API on top (`on`, `once`,
 * `off`, `addListener` and `removeListener` return the emitter), typed by each class's event map.
 *
 * Composed, not inherited: an `EventEmitter` subclass would carry eventemitter3's public `emit`, with which any
 * code holding the socket could fake an `open` or a `message`. Here `emit` is protected, and the
 * eventemitter3 instance is private.
 *
 * A listener that throws never stops the other listeners or the state machine halfway through a transition:
 * its error is reported on the emitter's `error` event (a {@link ListenerError}) when something listens there,
 * else — and always for a throwing `error` listener — rethrown on a fresh microtask, so it still reaches
 * `window.onerror` / `uncaughtException`.
 * @see https://github.com/primus/eventemitter3
 */
import { EventEmitter } from "eventemitter3";
import { ListenerError } from "../errors.js";

// biome-ignore lint/suspicious/noExplicitAny: listener parameter lists are checked through the event map.
export type Listener = (...args: any[]) => void;

export class Emitter<Events extends { [E in keyof Events]: Listener }> {
  /**
   * Every listener is stored as `{ fn: guard, context: listener }`: eventemitter3 then keeps order, `once` and
   * removal by identity (`off(event, listener)` matches the context, so a `once` listener is removed by the
   * function the app holds — no wrapper to lose), and the one shared guard isolates each call.
   */
  private readonly events = new EventEmitter();
  private readonly guard: (this: Listener, ...args: unknown[]) => void;
  /** The event being emitted (emits nest: a listener may cause another event). */
  private emitting: PropertyKey | undefined;

  constructor() {
    const owner = this;
    this.guard = function (this: Listener, ...args: unknown[]) {
      try {
        this.apply(owner, args);
      } catch (error) {
        owner.threw(error);
      }
    };
  }

  /** Adds a listener; returns this emitter. */
  on<E extends keyof Events>(event: E, listener: Events[E]): this {
    this.events.on(name(event), this.guard, checked(event, listener));
    return this;
  }

  /** Same as {@link on}. */
  addListener<E extends keyof Events>(event: E, listener: Events[E]): this {
    return this.on(event, listener);
  }

  /** Adds a listener that runs at most once; `off(event, listener)` removes it before then. Returns this emitter. */
  once<E extends keyof Events>(event: E, listener: Events[E]): this {
    this.events.once(name(event), this.guard, checked(event, listener));
    return this;
  }

  /** Removes every registration of `listener` for `event` (without one, every listener of the event). */
  off<E extends keyof Events>(event: E, listener?: Events[E]): this {
    if (listener === undefined) this.events.removeAllListeners(name(event));
    else this.events.off(name(event), this.guard, listener);
    return this;
  }

  /** Same as {@link off}. */
  removeListener<E extends keyof Events>(event: E, listener?: Events[E]): this {
    return this.off(event, listener);
  }

  /** Removes every listener of `event`, or of every event. Returns this emitter. */
  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) this.events.removeAllListeners();
    else this.events.removeAllListeners(name(event));
    return this;
  }

  /** How many listeners `event` has. */
  listenerCount(event: keyof Events): number {
    return this.events.listenerCount(name(event));
  }

  /** Events that have at least one listener. */
  eventNames(): (keyof Events)[] {
    return this.events.eventNames() as (keyof Events)[];
  }

  /** Calls every listener of `event` in order; internal to the class that owns the event map. */
  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const outer = this.emitting;
    this.emitting = event;
    try {
      this.events.emit(name(event), ...args);
    } finally {
      this.emitting = outer;
    }
  }

  private threw(error: unknown): void {
    // What an `error` listener throws has nowhere else to go on this emitter.
    if (this.emitting === "error" || this.events.listenerCount("error") === 0) {
      queueMicrotask(() => {
        throw error;
      });
      return;
    }
    const event = String(this.emitting);
    (this as Emitter<{ error: Listener }>).emit("error", new ListenerError(event, error));
  }
}

/** Anything with this library's listener API for the event map `Events` (an interface such as `MessageSocket`). */
export interface EventSource<Events> {
  on<K extends keyof Events>(event: K, listener: Events[K]): unknown;
  off<K extends keyof Events>(event: K, listener?: Events[K]): unknown;
}

/**
 * Subscribes and returns the function that unsubscribes: for code that keeps a list of its subscriptions
 * (`on()` returns the emitter).
 */
export function listen<Events extends { [E in keyof Events]: Listener }, E extends keyof Events>(
  emitter: Pick<Emitter<Events>, "on" | "off"> | EventSource<Events>,
  event: E,
  listener: Events[E],
): () => void {
  emitter.on(event, listener);
  return () => emitter.off(event, listener);
}

function name(event: PropertyKey): string | symbol {
  return typeof event === "number" ? String(event) : event;
}

function checked<L>(event: PropertyKey, listener: L): L {
  if (typeof listener !== "function")
    throw new TypeError(`listener for "${String(event)}" must be a function`);
  return listener;
}
