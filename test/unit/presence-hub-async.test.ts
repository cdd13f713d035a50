/**
 * The hub over a store that answers with promises, each settling after a random number of event-loop
 * turns (a store on the network, with jitter). Each connection's messages are applied as a client applies
 * them: every diff must follow on from what that connection had (no gap, no other epoch), and in the end
 * every connection's roster equals the store's, exactly as with the synchronous store.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/index.js";
import { encodePresence, type StateRecord } from "../../src/presence/index.js";
import type { ChangesMessage, SnapshotMessage } from "../../src/presence/protocol.js";
import { RosterView } from "../../src/presence/roster.js";
import {
  InMemoryRosterStore,
  type PresenceConnection,
  PresenceHub,
  type RosterStore,
} from "../../src/server/presence/index.js";

/** A PRNG with a seed (the sequence of each run is the same). */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The in-memory store behind promises that settle 0 to 3 event-loop turns later, at random. */
function laggy(store: InMemoryRosterStore, random: () => number): RosterStore & { calls: number } {
  const later = async <T>(read: () => T): Promise<T> => {
    wrapped.calls++;
    for (let i = Math.floor(random() * 4); i > 0; i--) await turn();
    return read();
  };
  const wrapped = {
    calls: 0,
    head: (space: string) => later(() => store.head(space)),
    member: (space: string, id: string) => later(() => store.member(space, id)),
    members: (space: string) =>
      later(() => [...(store.members(space) as Iterable<readonly [string, StateRecord]>)]),
    size: (space: string) => later(() => store.size(space)),
    // The write happens when the promise settles, as a network store's would: ordering is the hub's job.
    apply: (space: string, change: Parameters<RosterStore["apply"]>[1]) =>
      later(() => store.apply(space, change)),
    changesSince: (space: string, rev: number) => later(() => store.changesSince(space, rev)),
    drop: (space: string) => later(() => store.drop(space)),
  };
  return wrapped;
}

interface Client extends PresenceConnection {
  readonly view: RosterView;
  problems: string[];
}

function client(member: string): Client {
  const view = new RosterView(member);
  const c: Client = {
    id: member,
    view,
    problems: [],
    send: (text) => {
      const message = JSON.parse(text) as Record<string, unknown>;
      const type = message.$presence;
      if (type === "snapshot") view.applySnapshot({ ...(message as object), type } as SnapshotMessage);
      else if (type === "catchup" || type === "diff") {
        const m = message as unknown as ChangesMessage;
        const outcome = view.applyChanges(m.epoch, m.from, m.rev, m.changes, []);
        if (outcome !== "applied" && outcome !== "stale") c.problems.push(`${String(type)} ${outcome}`);
      }
    },
  };
  return c;
}

async function run(seed: number, async: boolean) {
  const random = seeded(seed);
  const clock = new VirtualClock(0);
  const inner = new InMemoryRosterStore({ random: () => 0.5 });
  const store = async ? laggy(inner, random) : inner;
  const hub = new PresenceHub({ clock, store, graceMs: 1_000, batchMs: 10, maxMessagesPerSecond: 1_000 });
  const names = ["a", "b", "c", "d", "e"];
  const clients = new Map<string, Client>();
  const send = (c: Client, body: Record<string, unknown>) => hub.receive(c, encodePresence(body as never));
  for (let step = 0; step < 200; step++) {
    const name = names[Math.floor(random() * names.length)] ?? "a";
    let c = clients.get(name);
    const roll = random();
    if (c === undefined || roll < 0.1) {
      if (c !== undefined) hub.disconnect(c);
      c = client(name);
      clients.set(name, c);
      send(c, {
        type: "sync",
        v: 1,
        space: "s",
        member: name,
        epoch: null,
        rev: null,
        state: { emoji: `${step}` },
      });
    } else if (roll < 0.9) {
      send(c, { type: "update", space: "s", state: { emoji: `${step}`, room: roll < 0.5 ? "r" : null } });
    } else {
      send(c, { type: "leave", space: "s" });
      clients.delete(name);
    }
    if (random() < 0.3) clock.advance(10);
    if (async && random() < 0.5) await turn();
  }
  // Let every store answer and every batch go out.
  for (let i = 0; i < 50; i++) {
    clock.advance(10);
    for (let t = 0; t < 5; t++) await turn();
  }
  const truth = await hub.readRoster("s");
  hub.close();
  return { clients: [...clients.values()], truth };
}

describe("PresenceHub over a store that answers later", () => {
  it.each([1, 2, 3, 4, 5])(
    "keeps every connection's diffs in order and its roster equal to the store's (seed %i)",
    async (seed) => {
      const { clients, truth } = await run(seed, true);
      expect(clients.length).toBeGreaterThan(0);
      for (const c of clients) {
        expect(c.problems).toEqual([]);
        const others = new Map([...truth].filter(([id]) => id !== c.id));
        expect(new Map([...c.view.members].map(([id, m]) => [id, m.state]))).toEqual(others);
      }
    },
  );

  it("counts a store that rejects every call, answers nothing it cannot read, and throws nothing", async () => {
    const clock = new VirtualClock(0);
    const fail = () => Promise.reject(new Error("store down"));
    const store: RosterStore = {
      head: fail,
      member: fail,
      members: fail,
      size: fail,
      apply: fail,
      changesSince: fail,
      drop: fail,
    };
    const hub = new PresenceHub({ clock, store, graceMs: 0, batchMs: 10 });
    const c = client("a");
    const sync = { type: "sync", v: 1, space: "s", member: "a", epoch: null, rev: null, state: {} };
    expect(hub.receive(c, encodePresence(sync as never))).toBe(true);
    hub.receive(c, encodePresence({ type: "update", space: "s", state: { emoji: "x" } } as never));
    for (let i = 0; i < 5; i++) {
      clock.advance(10);
      await turn();
    }
    hub.disconnect(c);
    for (let i = 0; i < 5; i++) await turn();
    expect(hub.stats().storeErrors).toBeGreaterThan(0);
    expect(hub.stats().seats).toBe(0);
    hub.close();
  });
});
