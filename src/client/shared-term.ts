/**
 * How a {@link SharedSocket} tab proves a leader term, and how another tab checks the proof. A BroadcastChannel
 * message says nothing of its sender: any same-origin script can post a `state` with a new epoch. The Web Locks
 * API does say who holds a lock — `navigator.locks.query()` lists each held lock with the `clientId` of the
 * context (tab, frame, worker) holding it — and a lock cannot be held in another context's name. So a leader,
 * once it holds the app's lock, also takes a lock whose name carries its term (`resilient-reconnect-term:<epoch>:
 * <name>`) and announces the term only then; a follower adopts a term only when the same context holds both.
 *
 * What this proves, and what it does not: a script in another context can no longer make tabs follow a term
 * it made up. It can still take the lead outright (request the app's lock with `steal: true`, or queue for it
 * like any tab), and it can read the channel and the lock names, so it can post messages tagged with the
 * current term. See docs/security.md, "Tab channel".
 * @see https://w3c.github.io/web-locks/#api-lock-manager-query
 */
import type { LockManagerLike } from "./shared-options.js";

const TERM_PREFIX = "resilient-reconnect-term:";

/** The name of the lock a leader holds for its term `epoch` of the app `name`. */
export function termLockName(epoch: string, name: string): string {
  return `${TERM_PREFIX}${epoch}:${name}`;
}

/** What `navigator.locks.query()` gives: only `held` is read, and none of it is trusted to be well-formed. */
export interface LockSnapshotLike {
  readonly held?: readonly { readonly name?: unknown; readonly clientId?: unknown }[];
}

/**
 * The term the holder of the app's lock `lockName` proves: the one term lock (of the app `name`) held by the
 * same context. `undefined` when nobody holds the app's lock, or its holder holds no term lock or several.
 * Where the browser gives no `clientId` the proof is weaker: the one term lock held by anyone.
 */
export function provenTerm(snapshot: LockSnapshotLike, lockName: string, name: string): string | undefined {
  const held = Array.isArray(snapshot?.held) ? snapshot.held : [];
  const holder = held.find((lock) => lock?.name === lockName);
  if (holder === undefined) return undefined;
  const suffix = `:${name}`;
  const terms: string[] = [];
  for (const lock of held) {
    const lockTerm = lock?.name;
    if (typeof lockTerm !== "string" || !lockTerm.startsWith(TERM_PREFIX) || !lockTerm.endsWith(suffix))
      continue;
    const epoch = lockTerm.slice(TERM_PREFIX.length, lockTerm.length - suffix.length);
    // An epoch never holds a colon (ids are UUIDs): "a:b" is the term of another app, named "b…".
    if (epoch === "" || epoch.includes(":")) continue;
    if (typeof holder.clientId === "string" && holder.clientId !== "" && lock.clientId !== holder.clientId)
      continue;
    terms.push(epoch);
  }
  return terms.length === 1 ? terms[0] : undefined;
}

/** Asks the lock manager which term its app lock's holder proves; `null` when it could not answer. */
async function queryTerm(
  locks: LockManagerLike,
  lockName: string,
  name: string,
): Promise<string | undefined | null> {
  try {
    return provenTerm(await locks.query(), lockName, name);
  } catch {
    // Not fully active (a page in the back/forward cache), say: a later state is checked again.
    return null;
  }
}

/** Channel messages kept in order while a new term is checked; past it the oldest go (a flood, not a tab). */
const MAX_HELD = 1_000;
/** Terms the lock manager did not prove, remembered so that repeating one costs no query. */
const MAX_REFUSED = 16;

/**
 * A follower's door on the channel while it checks a new term: one check at a time, and until its answer the
 * channel's messages whose meaning depends on it (`waits`: the new leader's first messages are among them)
 * wait in order, then go on as if they had just arrived. The rest — the followed term's messages, acks — go
 * on at once: a script posting a term a second cannot hold up, or push out of the queue, the live leader's
 * traffic. A term refused once is not checked again.
 */
export class TermGate<T> {
  private held: T[] | undefined;
  private readonly refused: string[] = [];

  constructor(
    private readonly locks: LockManagerLike,
    private readonly lockName: string,
    private readonly name: string,
    private readonly receive: (message: T) => void,
    private readonly waits: (message: T) => boolean,
  ) {}

  /** A channel message: taken now, or kept while a check runs. */
  arrive(raw: T): void {
    const held = this.held;
    if (held === undefined || !this.waits(raw)) this.receive(raw);
    else {
      if (held.length >= MAX_HELD) held.shift();
      held.push(raw);
    }
  }

  /** Asks the lock manager whether `epoch` is the app lock holder's term; `answer` gets the term it proves. */
  check(epoch: string, answer: (proven: string | undefined) => void): void {
    if (this.held !== undefined || this.refused.includes(epoch)) return;
    const held: T[] = [];
    this.held = held;
    void queryTerm(this.locks, this.lockName, this.name).then((proven) => {
      if (this.held !== held) return;
      this.held = undefined;
      if (proven !== epoch && proven !== null) {
        this.refused.push(epoch);
        if (this.refused.length > MAX_REFUSED) this.refused.shift();
      }
      answer(proven ?? undefined);
      for (const raw of held) this.arrive(raw);
    });
  }

  /** Forgets what is held (the tab closed). */
  close(): void {
    this.held = undefined;
  }
}
