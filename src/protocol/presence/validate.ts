/**
 * The strict reader of inbound presence messages, used by both sides. It never throws: a message is either
 * accepted (possibly with some slices skipped — unknown to this side, invalid or too large) or dropped as a
 * whole with a reason. The text's size is checked before it is parsed, and forbidden keys anywhere drop
 * the whole message (hostile input is not worth salvaging).
 */
import { inspectJson, isRecord, own, utf8Length } from "../json-guard.js";
import {
  type DownMessage,
  isPresenceMessage,
  type MessageProblem,
  PRESENCE_KEY,
  PROTOCOL_VERSION,
  type PresenceChange,
  type PresenceLimits,
  type StateRecord,
  type UpMessage,
} from "./messages.js";
import { isId, type SliceProblem, type SliceRegistry } from "./slices.js";

/** The outcome of reading one inbound message. */
export type Decoded<M> =
  | {
      /** The message is valid (perhaps with slices left out). */
      readonly ok: true;
      /** The message, with invalid or unknown slices left out. */
      readonly message: M;
      /** What was wrong with each slice left out. */
      readonly skipped: readonly SliceProblem[];
    }
  | {
      /** The message was refused whole. */
      readonly ok: false;
      /** Why. */
      readonly problem: MessageProblem;
    };

/** Counts of what was accepted, dropped and skipped; one per side, kept by whoever reads messages. */
export interface PresenceCounters {
  /** Presence messages received (accepted or not). */
  received: number;
  /** Presence messages accepted. */
  accepted: number;
  /** Whole messages dropped, by reason. */
  readonly dropped: Record<MessageProblem, number>;
  /** Slices left out of accepted messages, by reason. */
  readonly skipped: Record<SliceProblem, number>;
}

/** Fresh counters, all zero. */
export function newCounters(): PresenceCounters {
  return {
    received: 0,
    accepted: 0,
    dropped: {
      "not-presence": 0,
      "too-large": 0,
      malformed: 0,
      "forbidden-key": 0,
      "too-deep": 0,
      version: 0,
      "unknown-type": 0,
    },
    skipped: { "unknown-slice": 0, "invalid-slice": 0, "slice-too-large": 0, "forbidden-key": 0 },
  };
}

/** Adds one decoding outcome to `counters`. */
export function count(counters: PresenceCounters, decoded: Decoded<unknown>): void {
  counters.received++;
  if (!decoded.ok) {
    counters.dropped[decoded.problem]++;
    return;
  }
  counters.accepted++;
  for (const problem of decoded.skipped) counters.skipped[problem]++;
}

class Malformed {
  constructor(readonly problem: MessageProblem = "malformed") {}
}

const fail = (problem?: MessageProblem): never => {
  throw new Malformed(problem);
};

const revision = (value: unknown): number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : fail();

const id = (value: unknown): string => (isId(value) ? value : fail());

/** Reads one state (or, with `patch`, a patch whose `null` clears a slice), skipping bad slices. */
function readState(
  value: unknown,
  registry: SliceRegistry,
  limits: PresenceLimits,
  skipped: SliceProblem[],
  patch: boolean,
): StateRecord {
  if (!isRecord(value)) return fail();
  const keys = Object.keys(value);
  if (keys.length > limits.maxSlices) return fail();
  const state: Record<string, unknown> = {};
  for (const name of keys) {
    const slice = value[name];
    const problem =
      patch && slice === null
        ? registry.get(name) === undefined
          ? "unknown-slice"
          : undefined
        : registry.check(name, slice);
    if (problem === undefined) state[name] = slice;
    else skipped.push(problem);
  }
  return state;
}

function readChange(
  value: unknown,
  registry: SliceRegistry,
  limits: PresenceLimits,
  skipped: SliceProblem[],
): PresenceChange {
  if (!isRecord(value)) return fail();
  const op = own(value, "op");
  const member = id(own(value, "id"));
  if (op === "leave") return { op, id: member };
  if (op !== "join" && op !== "update") return fail();
  return {
    op,
    id: member,
    state: readState(own(value, "state"), registry, limits, skipped, op === "update"),
  };
}

function parse(data: unknown, limits: PresenceLimits): Record<string, unknown> {
  if (!isPresenceMessage(data)) return fail("not-presence");
  if (data.length > limits.maxMessageBytes || utf8Length(data) > limits.maxMessageBytes) fail("too-large");
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return fail();
  }
  const problem = inspectJson(parsed, limits.maxDepth);
  if (problem === "forbidden-key" || problem === "too-deep") fail(problem);
  return isRecord(parsed) && problem === undefined ? parsed : fail();
}

function decode<M>(
  data: unknown,
  limits: PresenceLimits,
  read: (raw: Record<string, unknown>, skipped: SliceProblem[]) => M,
): Decoded<M> {
  const skipped: SliceProblem[] = [];
  try {
    return { ok: true, message: read(parse(data, limits), skipped), skipped };
  } catch (error) {
    if (error instanceof Malformed) return { ok: false, problem: error.problem };
    return { ok: false, problem: "malformed" };
  }
}

/** Reads a message a client sent (on the server). Never throws. */
export function decodeUp(data: unknown, registry: SliceRegistry, limits: PresenceLimits): Decoded<UpMessage> {
  return decode(data, limits, (raw, skipped): UpMessage => {
    const type = own(raw, PRESENCE_KEY);
    const space = id(own(raw, "space"));
    if (type === "leave") return { type, space };
    if (type === "update") {
      return { type, space, state: readState(own(raw, "state"), registry, limits, skipped, true) };
    }
    if (type !== "sync") return fail("unknown-type");
    if (own(raw, "v") !== PROTOCOL_VERSION) return fail("version");
    const epoch = own(raw, "epoch");
    const rev = own(raw, "rev");
    return {
      type,
      v: PROTOCOL_VERSION,
      space,
      member: id(own(raw, "member")),
      epoch: epoch === null ? null : id(epoch),
      rev: rev === null ? null : revision(rev),
      state: readState(own(raw, "state"), registry, limits, skipped, false),
    };
  });
}

/** Reads a message a server sent (on the client). Never throws. */
export function decodeDown(
  data: unknown,
  registry: SliceRegistry,
  limits: PresenceLimits,
): Decoded<DownMessage> {
  return decode(data, limits, (raw, skipped): DownMessage => {
    const type = own(raw, PRESENCE_KEY);
    const space = id(own(raw, "space"));
    if (type === "refused") {
      const reason = own(raw, "reason");
      return { type, space, reason: typeof reason === "string" && reason.length <= 200 ? reason : fail() };
    }
    if (type === "displaced") return { type, space };
    if (type !== "snapshot" && type !== "catchup" && type !== "diff") return fail("unknown-type");
    const epoch = id(own(raw, "epoch"));
    const rev = revision(own(raw, "rev"));
    const list = own(raw, type === "snapshot" ? "members" : "changes");
    if (!Array.isArray(list) || list.length > limits.maxEntries) return fail();
    if (type === "snapshot") {
      const seen = new Set<string>();
      const members = list.map((entry: unknown) => {
        if (!isRecord(entry)) return fail();
        const member = id(own(entry, "id"));
        if (seen.has(member)) fail();
        seen.add(member);
        return { id: member, state: readState(own(entry, "state"), registry, limits, skipped, false) };
      });
      return { type, space, epoch, rev, members };
    }
    const from = revision(own(raw, "from"));
    if (rev - from !== list.length) fail();
    const changes = list.map((entry: unknown) => readChange(entry, registry, limits, skipped));
    return { type, space, epoch, from, rev, changes };
  });
}
