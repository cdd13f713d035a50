/**
 * Slices: the named parts of a member's presence. Three are built in (`room`, `emoji`, `layout`); an app
 * adds its own with {@link defineSlice}. A slice says what a valid value is and how a value set locally
 * combines with the one already there; the wire always carries a slice's whole current value, so the
 * receiving side only ever replaces (idempotent, last value wins, order-safe across a reconnect).
 */

import { badOption, functionOption, numberOption, objectOption, rejectUnknown } from "../../options-check.js";
import { FORBIDDEN_KEYS, hasUnsafeText, inspectJson, isRecord, utf8Length } from "../json-guard.js";

/** A named slice of presence state with its validator and merge. */
export interface SliceDefinition<N extends string = string, T = unknown> {
  /** The key of the slice on the wire and in the state object. */
  readonly name: N;
  /** True when `value` is a valid value of this slice (size and forbidden keys are checked apart). */
  readonly validate: (value: unknown) => value is T;
  /** Combines the current own value with one set by {@link Presence.set}; the result is what is sent. */
  readonly merge: (previous: T | undefined, next: T) => T;
  /** Largest UTF-8 JSON encoding of one value (bytes). */
  readonly maxBytes: number;
}

/** Any slice definition (for lists of mixed slices). */
// biome-ignore lint/suspicious/noExplicitAny: the value type varies per slice; each is checked by its own validator.
export type AnySlice = SliceDefinition<string, any>;

/** Options of {@link defineSlice}. */
export interface SliceOptions<T> {
  /** True when a value (already parsed JSON data) is valid for the slice. */
  validate: (value: unknown) => value is T;
  /** Combines the current own value with a new one. Default: the new value replaces it. */
  merge?: (previous: T | undefined, next: T) => T;
  /** Largest UTF-8 JSON encoding of one value, in bytes. Default {@link DEFAULT_SLICE_BYTES}. */
  maxBytes?: number;
}

/** Default size limit of one slice value (bytes of its JSON). */
export const DEFAULT_SLICE_BYTES = 1_024;
/** Slice names: a letter, then letters, digits, `_`, `-` or `.` — 1 to 32 characters. */
export const SLICE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/;
/** Member, space and room ids: 1 to 128 of letters, digits and `_ . : @ / -`. */
export const ID_PATTERN = /^[A-Za-z0-9_.:@/-]{1,128}$/;
/** Largest absolute `layout` coordinate. */
export const LAYOUT_LIMIT = 1_000_000;
/** Largest `emoji` length in UTF-16 code units (room for ZWJ sequences and modifiers). */
export const EMOJI_MAX_LENGTH = 32;

const replace = <T>(_previous: T | undefined, next: T): T => next;

/** True for an id (member, space, room) that matches {@link ID_PATTERN} and is not a forbidden key. */
export function isId(value: unknown): value is string {
  return typeof value === "string" && ID_PATTERN.test(value) && !FORBIDDEN_KEYS.has(value);
}

/**
 * Defines a custom slice.
 * @example
 * const cursor = defineSlice("cursor", {
 *   validate: (v): v is { line: number } => typeof v === "object" && v !== null && Number.isInteger((v as { line?: unknown }).line),
 * });
 * @throws RangeError when `name` is not a valid slice name or `maxBytes` is not a positive integer;
 * TypeError when `validate` or `merge` is not a function.
 */
export function defineSlice<N extends string, T>(name: N, options: SliceOptions<T>): SliceDefinition<N, T> {
  if (typeof name !== "string" || !SLICE_NAME.test(name) || FORBIDDEN_KEYS.has(name))
    badOption("defineSlice", "name", `a match of ${SLICE_NAME} and not a reserved key`, name, true);
  const where = `defineSlice("${name}")`;
  rejectUnknown(where, objectOption(where, "options", options), ["validate", "merge", "maxBytes"]);
  if (typeof options.validate !== "function") badOption(where, "validate", "a function", options.validate);
  functionOption(where, "merge", options.merge, undefined);
  const maxBytes = numberOption(where, "maxBytes", options.maxBytes, DEFAULT_SLICE_BYTES, {
    min: 1,
    integer: true,
  });
  return { name, validate: options.validate, merge: options.merge ?? replace, maxBytes };
}

/** A position in the workspace layout. */
export interface LayoutPosition {
  /** Horizontal coordinate, in the app's units; finite, within ±{@link LAYOUT_LIMIT}. */
  readonly x: number;
  /** Vertical coordinate, in the app's units; finite, within ±{@link LAYOUT_LIMIT}. */
  readonly y: number;
}

const coordinate = (v: unknown): v is number =>
  typeof v === "number" && Number.isFinite(v) && Math.abs(v) <= LAYOUT_LIMIT;

/** Built-in: the room a member is in (an id). */
export const roomSlice = defineSlice("room", { validate: isId, maxBytes: 256 });

/**
 * Built-in: a short emoji (or any short text without control characters). Like every slice's text, it may
 * not hold bidi controls, line/paragraph separators or lone surrogates ({@link SliceRegistry.check}).
 */
export const emojiSlice = defineSlice("emoji", {
  validate: (v): v is string =>
    typeof v === "string" &&
    v.length > 0 &&
    v.length <= EMOJI_MAX_LENGTH &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused.
    !/[\u0000-\u001f\u007f]/.test(v) &&
    !hasUnsafeText(v),
  maxBytes: 128,
});

/** Built-in: the avatar's position, `{ x, y }` finite numbers within ±{@link LAYOUT_LIMIT}, no other keys. */
export const layoutSlice = defineSlice("layout", {
  validate: (v): v is LayoutPosition =>
    isRecord(v) && Object.keys(v).length === 2 && coordinate(v.x) && coordinate(v.y),
  maxBytes: 128,
});

/** The built-in slices, in wire order. */
export const BUILT_IN_SLICES = [roomSlice, emojiSlice, layoutSlice] as const;

/** The state carried by the built-in slices. */
export interface BuiltInState {
  /** The room the member is in: an id (1–128 letters, digits and `_ . : @ / -`). */
  room?: string;
  /** The member's emoji or short status text, at most {@link EMOJI_MAX_LENGTH} characters. */
  emoji?: string;
  /** Where the member sits in the app's layout. */
  layout?: LayoutPosition;
}

/** The value type of a slice definition. */
export type SliceValue<S> = S extends SliceDefinition<string, infer T> ? T : never;

/** The state a list of custom slices adds to {@link BuiltInState}. */
export type CustomState<D extends readonly AnySlice[]> = {
  [S in D[number] as S["name"]]?: SliceValue<S>;
};

/** A member's whole presence state: built-in slices plus the custom ones in `D`. */
export type PresenceState<D extends readonly AnySlice[] = readonly []> = BuiltInState & CustomState<D>;

/** Why one slice of a state was left out. */
export type SliceProblem = "unknown-slice" | "invalid-slice" | "slice-too-large" | "forbidden-key";

/**
 * The slices one side knows: built-ins plus the custom ones, by name.
 * @throws TypeError when a custom slice is not a slice definition or repeats a name (option `slices`).
 */
export class SliceRegistry {
  private readonly byName = new Map<string, AnySlice>();

  constructor(
    custom: readonly AnySlice[] = [],
    /** Deepest nesting of objects and arrays a slice value may have. */
    readonly maxDepth = 16,
    /** Who is checking, for messages (`Presence`, `PresenceHub`). */
    where = "SliceRegistry",
  ) {
    if (!Array.isArray(custom)) badOption(where, "slices", "an array of defineSlice(...) results", custom);
    for (const slice of [...BUILT_IN_SLICES, ...custom]) {
      if (slice === null || typeof slice !== "object" || typeof slice.validate !== "function")
        badOption(where, "slices", "made of defineSlice(...) results (an entry is not)", slice);
      if (this.byName.has(slice.name)) {
        badOption(
          where,
          "slices",
          "made of distinct names (built-ins: room, emoji, layout)",
          `"${slice.name}" used twice`,
        );
      }
      this.byName.set(slice.name, slice);
    }
  }

  /** The definition of slice `name`, if known. */
  get(name: string): AnySlice | undefined {
    return this.byName.get(name);
  }

  /** Every known slice name. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * Checks one value of slice `name`: a known slice, plain JSON with no forbidden key, within the slice's
   * size, no string with bidi controls, U+2028/2029 or lone surrogates (`invalid-slice`), and accepted by
   * its validator. Returns the problem, or `undefined` when it is fine.
   */
  check(name: string, value: unknown): SliceProblem | undefined {
    const slice = this.byName.get(name);
    if (slice === undefined) return "unknown-slice";
    const problem = inspectJson(value, this.maxDepth);
    if (problem === "forbidden-key") return "forbidden-key";
    if (problem !== undefined) return "invalid-slice";
    if (utf8Length(JSON.stringify(value)) > slice.maxBytes) return "slice-too-large";
    if (hasUnsafeText(value)) return "invalid-slice";
    try {
      return slice.validate(value) ? undefined : "invalid-slice";
    } catch {
      // A custom validator that throws on odd input must not turn hostile data into a crash.
      return "invalid-slice";
    }
  }
}
