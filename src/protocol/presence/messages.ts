/**
 * The presence wire protocol: JSON text messages that share the socket with the app's own messages. A
 * presence message is a JSON object whose FIRST key is `"$presence"` (its type), so it is recognised by a
 * prefix check without parsing anything else the app sends.
 *
 * Client → server: `sync` (once per connection: full own state + last roster revision seen), `update`
 * (coalesced own changes), `leave`. Server → client: `snapshot` or `catchup` (the one answer to a sync),
 * `diff` (batched broadcasts), `refused`, `displaced` (another connection took this member's seat). Revisions count roster changes: a diff `from` a to `rev` b carries
 * exactly b − a changes, the k-th of them being revision a + k. A revision only means something within its
 * `epoch` (a roster created afresh — a restarted server — gets a new epoch).
 */
import { numberOption, objectOption, rejectUnknown } from "../../options-check.js";

/** The reserved key that marks a presence message (always the first key). */
export const PRESENCE_KEY = "$presence";
/** Every presence message's text starts with this. */
export const PRESENCE_PREFIX = `{"${PRESENCE_KEY}":`;
/** Version carried by `sync`. */
export const PROTOCOL_VERSION = 1;

/** A member's state as carried on the wire: slice name → value. */
export type StateRecord = Readonly<Record<string, unknown>>;
/** Changed slices: slice name → new value, or `null` when the slice was cleared. */
export type StatePatch = Readonly<Record<string, unknown>>;

/** One roster change; the k-th change of a diff from revision a is revision a + k. */
export type PresenceChange =
  | {
      /** A member joined, with its whole state. */
      readonly op: "join";
      /** The member's id. */
      readonly id: string;
      /** Its whole state. */
      readonly state: StateRecord;
    }
  | {
      /** A member changed slices. */
      readonly op: "update";
      /** The member's id. */
      readonly id: string;
      /** The changed slices only (`null`: cleared). */
      readonly state: StatePatch;
    }
  | {
      /** A member left. */
      readonly op: "leave";
      /** The member's id. */
      readonly id: string;
    };

/** `{"$presence":"sync","v":1,"space":…,"member":…,"epoch":…|null,"rev":…|null,"state":{…}}` */
export interface SyncMessage {
  /** The message kind (the `$presence` field on the wire). */
  readonly type: "sync";
  /** The protocol version the client speaks ({@link PROTOCOL_VERSION}). */
  readonly v: number;
  /** The space to join. */
  readonly space: string;
  /** The member id to sync as. */
  readonly member: string;
  /** The roster epoch the client last saw, `null` for none (then the answer is a snapshot). */
  readonly epoch: string | null;
  /** The roster revision the client last applied in that epoch, `null` for none. */
  readonly rev: number | null;
  /** The member's whole own state. */
  readonly state: StateRecord;
}

/** `{"$presence":"update","space":…,"state":{slice: value | null}}` */
export interface UpdateMessage {
  /** The message kind. */
  readonly type: "update";
  /** The space the member synced in. */
  readonly space: string;
  /** The changed slices (`null`: cleared). */
  readonly state: StatePatch;
}

/** `{"$presence":"leave","space":…}` */
export interface LeaveMessage {
  /** The message kind. */
  readonly type: "leave";
  /** The space the member leaves (at once, without a grace period). */
  readonly space: string;
}

/** `{"$presence":"snapshot","space":…,"epoch":…,"rev":…,"members":[{"id":…,"state":{…}}]}` */
export interface SnapshotMessage {
  /** The message kind. */
  readonly type: "snapshot";
  /** The space of the roster. */
  readonly space: string;
  /** The roster's epoch. */
  readonly epoch: string;
  /** The revision this snapshot is at. */
  readonly rev: number;
  /** Every member of the space but the one asking. */
  readonly members: readonly {
    /** The member's id. */
    readonly id: string;
    /** Its whole state. */
    readonly state: StateRecord;
  }[];
}

/** `catchup` (the answer to a sync) and `diff` (a broadcast): `{…,"epoch":…,"from":…,"rev":…,"changes":[…]}` */
export interface ChangesMessage {
  /** `catchup`: the answer to a sync; `diff`: a broadcast of changes. */
  readonly type: "catchup" | "diff";
  /** The space of the roster. */
  readonly space: string;
  /** The roster's epoch; a client in another epoch syncs again. */
  readonly epoch: string;
  /** The revision these changes start from (the client must be at it, or it syncs again). */
  readonly from: number;
  /** The revision after the last change (`from` + the number of changes). */
  readonly rev: number;
  /** The changes, in order. */
  readonly changes: readonly PresenceChange[];
}

/** `{"$presence":"refused","space":…,"reason":…}` — the server would not take this sync or update. */
export interface RefusedMessage {
  /** The message kind. */
  readonly type: "refused";
  /** The space of the refused sync or update. */
  readonly space: string;
  /** Why (`unauthorized`, `member-not-owned`, `too-many-spaces`, `too-many-seats`, `hub-full`, …). */
  readonly reason: string;
}

/**
 * `{"$presence":"displaced","space":…}` — another connection synced as this member in this space; the server
 * sends this connection nothing more there until it syncs again.
 */
export interface DisplacedMessage {
  /** Always `"displaced"`. */
  readonly type: "displaced";
  /** The space where this connection lost its member's seat. */
  readonly space: string;
}

/** Messages a client sends. */
export type UpMessage = SyncMessage | UpdateMessage | LeaveMessage;
/** Messages a server sends. */
export type DownMessage = SnapshotMessage | ChangesMessage | RefusedMessage | DisplacedMessage;
/** Any presence message. */
export type PresenceMessage = UpMessage | DownMessage;

/** True when `data` is presence protocol text (cheap: a prefix check, nothing parsed). */
export function isPresenceMessage(data: unknown): data is string {
  return typeof data === "string" && data.startsWith(PRESENCE_PREFIX);
}

/** The wire text of a message; `$presence` first, keys in a fixed order. */
export function encodePresence(message: PresenceMessage): string {
  const { type, ...rest } = message;
  return JSON.stringify({ [PRESENCE_KEY]: type, ...rest });
}

/** Why a whole inbound message was dropped. */
export type MessageProblem =
  | "not-presence"
  | "too-large"
  | "malformed"
  | "forbidden-key"
  | "too-deep"
  | "version"
  | "unknown-type";

/** Size and shape limits applied to inbound messages. */
export interface PresenceLimits {
  /** Largest inbound message, UTF-8 bytes of its text. */
  readonly maxMessageBytes: number;
  /** Most slices in one state or patch. */
  readonly maxSlices: number;
  /** Deepest nesting of a message (the envelope counts). */
  readonly maxDepth: number;
  /** Most members in a snapshot, and most changes in one diff. */
  readonly maxEntries: number;
}

/** What a server accepts from one client: a sync with 32 slices of up to 1 KiB fits with room to spare. */
export const HUB_LIMITS: PresenceLimits = {
  maxMessageBytes: 64 * 1_024,
  maxSlices: 48,
  maxDepth: 20,
  maxEntries: 0,
};

/** What a client accepts from its server: a snapshot of a large space fits. */
export const CLIENT_LIMITS: PresenceLimits = {
  maxMessageBytes: 8 * 1_024 * 1_024,
  maxSlices: 48,
  maxDepth: 24,
  maxEntries: 50_000,
};

/**
 * Merges overrides into defaults, checking each.
 * @throws RangeError naming the limit (`limits.maxMessageBytes`, …) when it is not a positive integer.
 */
export function resolveLimits(
  defaults: PresenceLimits,
  overrides?: Partial<PresenceLimits>,
  where = "resolveLimits",
): PresenceLimits {
  if (overrides === undefined) return defaults;
  const keys = ["maxMessageBytes", "maxSlices", "maxDepth", "maxEntries"] as const;
  rejectUnknown(where, objectOption(where, "limits", overrides), keys, "limits.");
  const merged = { ...defaults, ...overrides };
  for (const key of keys)
    numberOption(where, `limits.${key}`, merged[key], 0, {
      min: key === "maxEntries" ? 0 : 1,
      integer: true,
    });
  return merged;
}
