import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  CLIENT_LIMITS,
  decodeDown,
  decodeUp,
  encodePresence,
  HUB_LIMITS,
  isPresenceMessage,
  type PresenceMessage,
  SliceRegistry,
  utf8Length,
} from "../../src/internals.js";
import { defineSlice } from "../../src/presence/index.js";

const registry = new SliceRegistry();
const up = (text: string) => decodeUp(text, registry, HUB_LIMITS);
const down = (text: string) => decodeDown(text, registry, CLIENT_LIMITS);
const sync = (state: string, extra = "") =>
  `{"$presence":"sync","v":1,"space":"s","member":"m","epoch":null,"rev":null,"state":${state}${extra}}`;

afterEach(() => {
  // A failed pollution test must not leak into the next one.
  delete (Object.prototype as Record<string, unknown>).polluted;
});

describe("presence wire format", () => {
  const messages: PresenceMessage[] = [
    {
      type: "sync",
      v: 1,
      space: "office",
      member: "ann",
      epoch: null,
      rev: null,
      state: { room: "kitchen" },
    },
    { type: "sync", v: 1, space: "office", member: "ann", epoch: "e1", rev: 7, state: {} },
    { type: "update", space: "office", state: { emoji: "☕", layout: null } },
    { type: "leave", space: "office" },
  ];
  for (const message of messages) {
    it(`round-trips a ${message.type} message from client to server`, () => {
      const text = encodePresence(message);
      expect(text.startsWith('{"$presence":"')).toBe(true);
      expect(up(text)).toEqual({ ok: true, message, skipped: [] });
    });
  }

  it("round-trips snapshot, catchup, diff and refused from server to client", () => {
    const list: PresenceMessage[] = [
      {
        type: "snapshot",
        space: "o",
        epoch: "e",
        rev: 3,
        members: [{ id: "a", state: { layout: { x: 1, y: -2 } } }],
      },
      {
        type: "catchup",
        space: "o",
        epoch: "e",
        from: 3,
        rev: 5,
        changes: [
          { op: "join", id: "b", state: { room: "r1" } },
          { op: "update", id: "b", state: { room: null } },
        ],
      },
      { type: "diff", space: "o", epoch: "e", from: 5, rev: 6, changes: [{ op: "leave", id: "b" }] },
      { type: "refused", space: "o", reason: "unauthorized" },
    ];
    for (const message of list)
      expect(down(encodePresence(message))).toEqual({ ok: true, message, skipped: [] });
  });

  it("recognises presence text by its prefix alone, and nothing else", () => {
    expect(isPresenceMessage('{"$presence":"leave","space":"s"}')).toBe(true);
    expect(isPresenceMessage('{"type":"chat","$presence":"leave"}')).toBe(false);
    expect(isPresenceMessage({ $presence: "leave" })).toBe(false);
    expect(up('{"hello":1}')).toEqual({ ok: false, problem: "not-presence" });
  });
});

describe("presence validator", () => {
  it("drops a message over the size limit before parsing it", () => {
    const big = sync(`{"room":"${"a".repeat(HUB_LIMITS.maxMessageBytes)}"}`);
    expect(up(big)).toEqual({ ok: false, problem: "too-large" });
  });

  it("counts multi-byte characters as UTF-8 bytes for the size limit", () => {
    const limits = { ...HUB_LIMITS, maxMessageBytes: 200 };
    const text = sync(`{"emoji":"${"é".repeat(60)}"}`);
    expect(text.length).toBeLessThan(200);
    expect(decodeUp(text, registry, limits)).toEqual({ ok: false, problem: "too-large" });
  });

  it("skips unknown slices and keeps the known ones", () => {
    const result = up(sync('{"room":"r","cursor":{"line":3}}'));
    expect(result).toMatchObject({ ok: true, message: { state: { room: "r" } }, skipped: ["unknown-slice"] });
  });

  it("skips invalid and oversized slice values", () => {
    const result = up(sync(`{"room":"no spaces","emoji":"${"x".repeat(40)}","layout":{"x":1,"y":"2"}}`));
    expect(result).toMatchObject({ ok: true, message: { state: {} } });
    expect(result.ok && [...result.skipped].sort()).toEqual([
      "invalid-slice",
      "invalid-slice",
      "invalid-slice",
    ]);
    const sized = new SliceRegistry([
      defineSlice("note", { validate: (v): v is string => typeof v === "string", maxBytes: 8 }),
    ]);
    const note = decodeUp(sync('{"note":"123456789"}'), sized, HUB_LIMITS);
    expect(note).toMatchObject({ ok: true, skipped: ["slice-too-large"] });
  });

  it("accepts layout only as exactly {x, y} of finite bounded numbers", () => {
    for (const layout of ['{"x":1,"y":2,"z":3}', '{"x":1e7,"y":0}', '{"x":1}', "[1,2]", '"1,2"']) {
      expect(up(sync(`{"layout":${layout}}`))).toMatchObject({ ok: true, skipped: ["invalid-slice"] });
    }
    expect(up(sync('{"layout":{"x":-3.5,"y":1000000}}'))).toMatchObject({ ok: true, skipped: [] });
  });

  it.each([
    ["a non-object state", sync('"room"')],
    ["a missing member", '{"$presence":"sync","v":1,"space":"s","epoch":null,"rev":null,"state":{}}'],
    ["a negative revision", sync("{}").replace('"rev":null', '"rev":-1')],
    ["a fractional revision", sync("{}").replace('"rev":null', '"rev":1.5')],
    ["a member id with spaces", sync("{}").replace('"member":"m"', '"member":"a b"')],
    ["a space id that is a reserved key", sync("{}").replace('"space":"s"', '"space":"constructor"')],
    ["broken JSON", '{"$presence":"sync",'],
    ["a JSON array", '{"$presence":[]}'],
    [
      "too many slices",
      sync(JSON.stringify(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`s${i}`, 1])))),
    ],
  ])("drops %s as malformed", (_what, text) => {
    expect(up(text)).toEqual({ ok: false, problem: "malformed" });
  });

  it("drops a sync of another protocol version and messages of unknown type", () => {
    expect(up(sync("{}").replace('"v":1', '"v":2'))).toEqual({ ok: false, problem: "version" });
    expect(up('{"$presence":"kick","space":"s"}')).toEqual({ ok: false, problem: "unknown-type" });
    expect(down('{"$presence":"sync","space":"s"}')).toEqual({ ok: false, problem: "unknown-type" });
  });

  it("drops a diff whose change count does not match its revisions, and a snapshot listing a member twice", () => {
    const diff =
      '{"$presence":"diff","space":"s","epoch":"e","from":1,"rev":3,"changes":[{"op":"leave","id":"a"}]}';
    expect(down(diff)).toEqual({ ok: false, problem: "malformed" });
    const twice =
      '{"$presence":"snapshot","space":"s","epoch":"e","rev":1,"members":[{"id":"a","state":{}},{"id":"a","state":{}}]}';
    expect(down(twice)).toEqual({ ok: false, problem: "malformed" });
  });

  it("drops nesting deeper than the limit", () => {
    const note = defineSlice("note", { validate: (v): v is unknown => true, maxBytes: 4_096 });
    const deep = `${"[".repeat(40)}${"]".repeat(40)}`;
    expect(decodeUp(sync(`{"note":${deep}}`), new SliceRegistry([note]), HUB_LIMITS)).toEqual({
      ok: false,
      problem: "too-deep",
    });
  });

  it("treats a custom validator that throws as an invalid slice, not a crash", () => {
    const boom = defineSlice("boom", {
      validate: (_v): _v is number => {
        throw new Error("validator bug");
      },
    });
    expect(decodeUp(sync('{"boom":1}'), new SliceRegistry([boom]), HUB_LIMITS)).toMatchObject({
      ok: true,
      skipped: ["invalid-slice"],
    });
  });
});

describe("prototype pollution", () => {
  const free = defineSlice("free", { validate: (v): v is unknown => true });
  const open = new SliceRegistry([free]);
  const hostile = [
    sync('{"__proto__":{"polluted":true}}'),
    sync('{"free":{"__proto__":{"polluted":true}}}'),
    sync('{"free":[{"a":{"constructor":{"prototype":{"polluted":true}}}}]}'),
    sync('{"room":"r"}', ',"__proto__":{"polluted":true}'),
    sync('{"free":{"prototype":1}}'),
    '{"$presence":"update","space":"s","state":{"constructor":{"prototype":{"polluted":true}}}}',
  ];
  for (const text of hostile) {
    it(`drops ${text.slice(0, 90)}… and leaves Object.prototype alone`, () => {
      expect(decodeUp(text, open, HUB_LIMITS)).toEqual({ ok: false, problem: "forbidden-key" });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  }

  it("drops a snapshot with a hostile member state or a member id that is a reserved key", () => {
    const state =
      '{"$presence":"snapshot","space":"s","epoch":"e","rev":1,"members":[{"id":"a","state":{"__proto__":{"polluted":1}}}]}';
    expect(decodeDown(state, open, CLIENT_LIMITS)).toEqual({ ok: false, problem: "forbidden-key" });
    const id =
      '{"$presence":"snapshot","space":"s","epoch":"e","rev":1,"members":[{"id":"__proto__","state":{}}]}';
    expect(decodeDown(id, open, CLIENT_LIMITS)).toEqual({ ok: false, problem: "malformed" });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("never throws and never pollutes, whatever follows the prefix", () => {
    const json = fc.jsonValue({ maxDepth: 6 });
    const tails = fc.oneof(
      fc.string(),
      json.map((v) => JSON.stringify(v).slice(1)),
      fc
        .record({ space: fc.constantFrom("s", "__proto__"), state: json, members: json, changes: json })
        .map((r) => JSON.stringify(r).slice(1)),
    );
    const types = fc.constantFrom(
      '"sync",',
      '"update",',
      '"leave",',
      '"snapshot",',
      '"diff",',
      '"catchup",',
      "1,",
    );
    fc.assert(
      fc.property(types, tails, (type, tail) => {
        const text = `{"$presence":${type}${tail}`;
        expect(() => decodeUp(text, open, HUB_LIMITS)).not.toThrow();
        expect(() => decodeDown(text, open, CLIENT_LIMITS)).not.toThrow();
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });
});

describe("utf8Length", () => {
  it("agrees with Buffer.byteLength on any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => utf8Length(s) === Buffer.byteLength(s, "utf8")),
    );
  });
});

describe("defineSlice", () => {
  it("names the problem with the option", () => {
    expect(() => defineSlice("__proto__", { validate: (v): v is 1 => v === 1 })).toThrow(RangeError);
    expect(() => defineSlice("constructor", { validate: (v): v is 1 => v === 1 })).toThrow(/name/);
    expect(() => defineSlice("ok", { validate: (v): v is 1 => v === 1, maxBytes: 0 })).toThrow(/maxBytes/);
    expect(() => defineSlice("ok", {} as never)).toThrow(TypeError);
    const dup = defineSlice("room", { validate: (v): v is 1 => v === 1 });
    expect(() => new SliceRegistry([dup])).toThrow(/used twice/);
  });
});
