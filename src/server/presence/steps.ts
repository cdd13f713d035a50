/**
 * The hub's work, one space at a time. Each piece of work is a generator that yields what it waits for (a
 * store answer): a plain value continues it at once, a promise suspends it. With the in-memory store nothing
 * ever suspends, so the hub stays one synchronous step per message, exactly as before the store went async;
 * with a store on the network the work of one space is queued behind the step that waits, so the changes
 * of a space are applied and broadcast in the order their messages came.
 */

/** A piece of the hub's work: yields what it waits for, returns when done. */
export type Step<T = void> = Generator<unknown, T, unknown>;

/** Waits for `value` inside a step (`const x = yield* wait(store.head(space))`). */
export function* wait<T>(value: T | PromiseLike<T>): Step<T> {
  return (yield value) as T;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null &&
  (typeof value === "object" || typeof value === "function") &&
  typeof (value as { then?: unknown }).then === "function";

/** Work queued behind a suspended step of a space, at most this many pieces (further ones are refused). */
export const MAX_QUEUED_STEPS = 4_096;

/** Runs steps per space in order; a step that throws is reported to `onError` and the queue moves on. */
export class SpaceQueues {
  /** Spaces with a step under way; the work waiting behind it. */
  private readonly busy = new Map<string, (() => Step)[]>();

  constructor(private readonly onError: (error: unknown, space: string) => void) {}

  /** Spaces with a suspended step. */
  get waiting(): number {
    return this.busy.size;
  }

  /**
   * Runs `step` now when `space` is idle, else after the steps before it. Returns false (and does not run
   * it) when `optional` work would exceed {@link MAX_QUEUED_STEPS} for the space; work the hub owes (a
   * disconnect, a grace period ending) is always queued.
   */
  run(space: string, step: () => Step, optional = false): boolean {
    const queue = this.busy.get(space);
    if (queue !== undefined) {
      if (optional && queue.length >= MAX_QUEUED_STEPS) return false;
      queue.push(step);
      return true;
    }
    this.busy.set(space, []);
    this.drain(space, step);
    return true;
  }

  private drain(space: string, first: () => Step): void {
    let make: (() => Step) | undefined = first;
    while (make !== undefined) {
      let gen: Step | undefined;
      try {
        gen = make();
      } catch (error) {
        this.onError(error, space);
      }
      if (gen !== undefined && this.resume(space, gen, undefined, false)) return;
      make = this.busy.get(space)?.shift();
    }
    this.busy.delete(space);
  }

  /** Drives `gen` until it ends (false) or waits for a promise (true: it continues when that settles). */
  private resume(space: string, gen: Step, input: unknown, failed: boolean): boolean {
    for (;;) {
      let result: IteratorResult<unknown, void>;
      try {
        result = failed ? gen.throw(input) : gen.next(input);
      } catch (error) {
        this.onError(error, space);
        return false;
      }
      if (result.done === true) return false;
      const value = result.value;
      if (!isThenable(value)) {
        input = value;
        failed = false;
        continue;
      }
      value.then(
        (settled) => this.continue(space, gen, settled, false),
        (error: unknown) => this.continue(space, gen, error, true),
      );
      return true;
    }
  }

  private continue(space: string, gen: Step, input: unknown, failed: boolean): void {
    if (this.resume(space, gen, input, failed)) return;
    const next = this.busy.get(space)?.shift();
    if (next === undefined) this.busy.delete(space);
    else this.drain(space, next);
  }
}
