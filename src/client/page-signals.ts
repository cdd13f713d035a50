/**
 * Network and page signals of a browser tab, read for the reconnect policy — never acted on directly:
 * - `offline` → no attempts (each would fail at once); `online` → one attempt after a random share of
 *   `resumeJitterMs`, never the immediate reconnect every tab of the world would make at the same moment
 *   a network comes back (and never before what the backoff, a hint or the breaker already asked for);
 * - a hidden tab keeps, slows or pauses its retries (`whenHidden`); visible again resumes the same way;
 * - `pagehide` closes the connection so the page can enter the back/forward cache, `pageshow` resumes;
 * - a timer that fires far later than asked means the machine slept: the open connection is checked at once
 *   (with the heartbeat, the app's `heartbeat` option) instead of waiting for the next ping.
 *
 * @see https://developer.mozilla.org/docs/Web/API/Navigator/onLine
 * @see https://developer.chrome.com/docs/web-platform/page-lifecycle-api
 * @see https://web.dev/articles/bfcache (pagehide / pageshow with `persisted`)
 */
import { type Clock, MAX_TIMER_MS, type TimerHandle } from "../env.js";
import { badOption, numberOption, rejectUnknown } from "../options-check.js";

const SIGNAL_KEYS = [
  "window",
  "document",
  "navigator",
  "whenHidden",
  "hiddenSlowdown",
  "resumeJitterMs",
  "wakeCheckMs",
];

/** What a hidden tab does with its retries. */
export type HiddenPolicy = "keep" | "slow" | "pause";

/** The few members of `window` the signals use. */
export interface SignalTarget {
  /** Subscribes to `type` (`online`, `offline`, `pagehide`, `pageshow`, `visibilitychange`, …). */
  addEventListener(type: string, listener: (event: Event) => void): void;
  /** Unsubscribes a listener added with {@link SignalTarget.addEventListener}. */
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

/** The few members of `document` the signals use. */
export interface VisibilitySource extends SignalTarget {
  /** `"visible"` or `"hidden"` (a browser's `document.visibilityState`). */
  readonly visibilityState: string;
}

/** Options of the `signals` option of `ResilientSocket`. Every member is optional. */
export interface PageSignalsOptions {
  /** Fires `online`, `offline`, `pagehide` and `pageshow`. Default: `globalThis` in a browser. */
  window?: SignalTarget;
  /** Has `visibilityState` and fires `visibilitychange`. Default: `globalThis.document`. */
  document?: VisibilitySource;
  /** Reports `onLine` at start. Default: `globalThis.navigator`. */
  navigator?: {
    /** `false` when the browser knows it has no network (then no attempt is made until `online`). */
    readonly onLine?: boolean;
  };
  /** Retries of a hidden tab: `"keep"` (default), `"slow"` (waits × `hiddenSlowdown`) or `"pause"`. */
  whenHidden?: HiddenPolicy;
  /** Factor on waits that start while hidden under `whenHidden: "slow"`. Default 4. */
  hiddenSlowdown?: number;
  /** The attempt after `online`, visible or `pageshow` waits a uniform draw in [0, this] (ms). Default 1,000. */
  resumeJitterMs?: number;
  /** Period of the sleep detector (ms); a check late by more than one period means the machine slept. Default 5,000; 0 turns it off. */
  wakeCheckMs?: number;
}

export interface ResolvedSignals {
  readonly window: SignalTarget | undefined;
  readonly document: VisibilitySource | undefined;
  readonly navigator: { readonly onLine?: boolean } | undefined;
  readonly whenHidden: HiddenPolicy;
  readonly hiddenSlowdown: number;
  readonly resumeJitterMs: number;
  readonly wakeCheckMs: number;
}

/** What the signals tell the socket. */
export interface SignalHandlers {
  /** A signal changed: attempts may have become forbidden or allowed again, or waits shorter. */
  changed(): void;
  /** The page is being hidden for the back/forward cache or unloaded: let go of the connection. */
  hide(): void;
  /** The machine probably slept, or the network or page came back: check an open connection now. */
  wake(): void;
}

const EVENTS = ["online", "offline", "pagehide", "pageshow"] as const;

/** Whether `value` can be listened to like an EventTarget (window, document, a test's stand-in). */
export function isTarget(value: unknown): value is SignalTarget {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as SignalTarget).addEventListener === "function" &&
    typeof (value as SignalTarget).removeEventListener === "function"
  );
}

/**
 * Validates the `signals` option. `undefined` means "the browser's own, if this is a browser" (a global
 * `document` with `visibilityState`); `false` or no browser means none.
 */
export function resolveSignals(where: string, value: unknown): ResolvedSignals | undefined {
  if (value === false) return undefined;
  const g = globalThis as { document?: unknown; navigator?: { onLine?: boolean } };
  if (value === undefined && !(isTarget(globalThis) && isTarget(g.document))) return undefined;
  if (value !== undefined && (value === null || typeof value !== "object"))
    badOption(where, "signals", "an object or false", value);
  const input = (value ?? {}) as PageSignalsOptions;
  const win = input.window ?? (isTarget(globalThis) ? globalThis : undefined);
  const doc = input.document ?? (g.document as VisibilitySource | undefined);
  rejectUnknown(where, input, SIGNAL_KEYS, "signals.");
  if (win !== undefined && !isTarget(win)) badOption(where, "signals.window", "an EventTarget", win);
  if (doc !== undefined && !isTarget(doc)) badOption(where, "signals.document", "an EventTarget", doc);
  const whenHidden = input.whenHidden ?? "keep";
  if (whenHidden !== "keep" && whenHidden !== "slow" && whenHidden !== "pause")
    badOption(where, "signals.whenHidden", '"keep", "slow" or "pause"', whenHidden, true);
  return {
    window: win,
    document: doc,
    navigator: input.navigator ?? g.navigator,
    whenHidden,
    hiddenSlowdown: numberOption(where, "signals.hiddenSlowdown", input.hiddenSlowdown, 4, {
      min: 1,
      max: 1_000,
    }),
    resumeJitterMs: numberOption(where, "signals.resumeJitterMs", input.resumeJitterMs, 1_000, {
      max: MAX_TIMER_MS,
    }),
    wakeCheckMs: numberOption(where, "signals.wakeCheckMs", input.wakeCheckMs, 5_000, {
      max: MAX_TIMER_MS / 2,
    }),
  };
}

/** Listens to the page; tells the socket when attempts are allowed and when to check its connection. */
export class PageSignals {
  offline: boolean;
  hidden: boolean;
  frozen = false;
  private wakeTimer: TimerHandle | undefined;
  private lastTick = 0;
  private readonly onEvent = (event: Event) => this.handle(event);

  constructor(
    readonly options: ResolvedSignals,
    private readonly clock: Clock,
    private readonly handlers: SignalHandlers,
  ) {
    this.offline = options.navigator?.onLine === false;
    this.hidden = options.document?.visibilityState === "hidden";
    for (const type of EVENTS) options.window?.addEventListener(type, this.onEvent);
    options.document?.addEventListener("visibilitychange", this.onEvent);
  }

  /** No attempt may start: offline, frozen, or hidden under `whenHidden: "pause"`. */
  get paused(): boolean {
    return this.offline || this.frozen || (this.hidden && this.options.whenHidden === "pause");
  }

  /** The factor on a wait that starts now. */
  get slowdown(): number {
    return this.hidden && this.options.whenHidden === "slow" ? this.options.hiddenSlowdown : 1;
  }

  /** Runs the sleep detector while a connection is open. */
  watchSleep(on: boolean): void {
    if (this.wakeTimer !== undefined) this.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (on && this.options.wakeCheckMs > 0) this.tick();
  }

  dispose(): void {
    this.watchSleep(false);
    for (const type of EVENTS) this.options.window?.removeEventListener(type, this.onEvent);
    this.options.document?.removeEventListener("visibilitychange", this.onEvent);
  }

  private tick(): void {
    this.lastTick = this.clock.now();
    this.wakeTimer = this.clock.setTimeout(() => {
      this.wakeTimer = undefined;
      // Fired more than a whole period late: the event loop was frozen (sleep, or a suspended tab).
      const slept = this.clock.now() - this.lastTick > 2 * this.options.wakeCheckMs;
      this.tick();
      if (slept) this.handlers.wake();
    }, this.options.wakeCheckMs);
  }

  private handle(event: Event): void {
    const { type } = event;
    if (type === "offline" || type === "online") this.offline = type === "offline";
    else if (type === "pagehide" || type === "pageshow") this.frozen = type === "pagehide";
    else this.hidden = this.options.document?.visibilityState === "hidden";
    if (type === "pagehide") this.handlers.hide();
    this.handlers.changed();
    if (type === "online" || type === "pageshow" || (type === "visibilitychange" && !this.hidden))
      this.handlers.wake();
  }
}
