/**
 * The listener API every event source shares (eventemitter3 underneath): conventional return values, `once`
 * removable by the function the app holds, listeners isolated from each other and from the state machine,
 * and emitting kept inside the class.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  ListenerError,
  type ResilientReconnectError,
  ResilientSocket,
  type SocketState,
  VirtualClock,
} from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

let transport: FakeTransport;
const sockets: ResilientSocket[] = [];

function make(): ResilientSocket {
  const clock = new VirtualClock(1_000);
  transport = new FakeTransport(() => clock.now());
  const socket = new ResilientSocket({ transport, clock, random: () => 0.5, autoConnect: false });
  sockets.push(socket);
  return socket;
}

/** Runs `body` with uncaught exceptions collected instead of failing the run; returns them. */
async function collectUncaught(body: () => void): Promise<unknown[]> {
  const thrown: unknown[] = [];
  const onUncaught = (e: unknown) => thrown.push(e);
  process.on("uncaughtException", onUncaught);
  try {
    body();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off("uncaughtException", onUncaught);
  }
  return thrown;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) await s.close();
});

describe("the listener API", () => {
  it("returns the emitter from on, once, off, addListener, removeListener and removeAllListeners", () => {
    const socket = make();
    const fn = () => {};
    expect(socket.on("open", fn)).toBe(socket);
    expect(socket.addListener("open", fn)).toBe(socket);
    expect(socket.once("open", fn)).toBe(socket);
    expect(socket.off("open", fn)).toBe(socket);
    expect(socket.removeListener("open", fn)).toBe(socket);
    expect(socket.removeAllListeners()).toBe(socket);
    // Chaining, as Node and socket.io-client code does.
    socket.on("open", fn).on("close", fn).once("retry", fn);
    expect(socket.eventNames().sort()).toEqual(["close", "open", "retry"]);
  });

  it("removes a once listener with off and the function that was passed to once", () => {
    const socket = make();
    const seen: number[] = [];
    const listener = (data: unknown) => seen.push(data as number);
    socket.once("message", listener);
    socket.off("message", listener);
    expect(socket.listenerCount("message")).toBe(0);
    socket.connect();
    transport.last.open();
    transport.last.message(1);
    expect(seen).toEqual([]);
  });

  it("calls a once listener a single time and then forgets it", () => {
    const socket = make();
    const seen: unknown[] = [];
    socket.once("message", (data) => seen.push(data));
    socket.connect();
    transport.last.open();
    transport.last.message(1);
    transport.last.message(2);
    expect(seen).toEqual([1]);
    expect(socket.listenerCount("message")).toBe(0);
  });

  it("counts listeners per event and removes those of one event or of all", () => {
    const socket = make();
    socket
      .on("open", () => {})
      .on("open", () => {})
      .on("close", () => {});
    expect(socket.listenerCount("open")).toBe(2);
    expect(socket.listenerCount("retry")).toBe(0);
    socket.removeAllListeners("open");
    expect(socket.listenerCount("open")).toBe(0);
    expect(socket.eventNames()).toEqual(["close"]);
    socket.removeAllListeners();
    expect(socket.eventNames()).toEqual([]);
  });

  it("removes every registration of a function with off, and every listener of the event without one", () => {
    const socket = make();
    const fn = () => {};
    const other = () => {};
    socket.on("state", fn).on("state", fn).on("state", other);
    socket.off("state", fn);
    expect(socket.listenerCount("state")).toBe(1);
    socket.off("state");
    expect(socket.listenerCount("state")).toBe(0);
  });

  it("calls listeners in the order they were added, with the emitter as this", () => {
    const socket = make();
    const order: string[] = [];
    let self: unknown;
    socket.on("state", () => order.push("a"));
    socket.once("state", function (this: unknown) {
      self = this;
      order.push("b");
    });
    socket.on("state", () => order.push("c"));
    socket.connect();
    expect(order).toEqual(["a", "b", "c"]);
    expect(self).toBe(socket);
  });

  it("rejects a listener that is not a function, naming the event", () => {
    const socket = make();
    expect(() => socket.on("open", "nope" as never)).toThrow(/listener for "open" must be a function/);
    expect(() => socket.once("open", undefined as never)).toThrow(TypeError);
  });

  it("holds no listeners once the socket is closed, however they were added", async () => {
    const socket = make();
    socket
      .on("open", () => {})
      .once("close", () => {})
      .addListener("state", () => {});
    socket.connect();
    transport.last.open();
    await socket.close();
    expect(socket.eventNames()).toEqual([]);
    expect(socket.listenerCount("state")).toBe(0);
  });

  it("keeps emitting internal: emit is not part of the public type", () => {
    const socket = make();
    // @ts-expect-error emit is protected: an app cannot fake an `open`.
    const fake = () => socket.emit("open", { failures: 0, probe: false });
    expect(typeof fake).toBe("function");
  });
});

describe("a listener that throws", () => {
  it("is reported on error as a ListenerError naming the event, and the socket still opens", async () => {
    const socket = make();
    const errors: ResilientReconnectError[] = [];
    const states: SocketState[] = [];
    const bug = new Error("listener bug");
    socket.on("error", (e) => errors.push(e));
    socket.on("state", () => {
      throw bug;
    });
    socket.on("state", (state) => states.push(state));
    const uncaught = await collectUncaught(() => {
      socket.connect();
      transport.last.open();
    });
    expect(socket.state).toBe("open");
    expect(states).toEqual(["connecting", "open"]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(ListenerError);
    expect(errors[0]?.code).toBe("LISTENER_THREW");
    expect((errors[0] as ListenerError).event).toBe("state");
    expect(errors[0]?.cause).toBe(bug);
    expect(uncaught).toEqual([]);
  });

  it("is rethrown on a microtask when nothing listens on error", async () => {
    const socket = make();
    const bug = new Error("nobody listens");
    socket.on("open", () => {
      throw bug;
    });
    const uncaught = await collectUncaught(() => {
      socket.connect();
      transport.last.open();
    });
    expect(socket.state).toBe("open");
    expect(uncaught).toEqual([bug]);
  });

  it("in an error listener is rethrown on a microtask, not fed back to error", async () => {
    const socket = make();
    const calls: unknown[] = [];
    const bug = new Error("error listener bug");
    socket.on("error", (e) => {
      calls.push(e);
      throw bug;
    });
    socket.on("open", () => {
      throw new Error("open listener bug");
    });
    const uncaught = await collectUncaught(() => {
      socket.connect();
      transport.last.open();
    });
    expect(calls).toHaveLength(1);
    expect(uncaught).toEqual([bug]);
    expect(socket.state).toBe("open");
  });

  it("that closes the socket and then throws leaves it closed with no listeners", async () => {
    const socket = make();
    socket.on("error", () => {});
    socket.on("open", () => {
      void socket.close();
      throw new Error("after close");
    });
    await collectUncaught(() => {
      socket.connect();
      transport.last.open();
    });
    expect(socket.state).toBe("closed");
    expect(socket.eventNames()).toEqual([]);
    expect(transport.live).toBe(0);
  });
});

describe("the listener API on Presence", () => {
  it("returns the presence from on/once/off, removes a once listener with off, and leaves the socket as it found it on detach", async () => {
    const { Presence } = await import("../../src/presence/index.js");
    const socket = make();
    const before = socket.eventNames().map((e) => [e, socket.listenerCount(e)]);
    const presence = new Presence(socket, { space: "office", member: "me" });
    const onJoin = () => {};
    expect(presence.on("join", onJoin)).toBe(presence);
    expect(presence.once("sync", onJoin)).toBe(presence);
    expect(presence.off("sync", onJoin)).toBe(presence);
    expect(presence.listenerCount("sync")).toBe(0);
    expect(presence.eventNames()).toEqual(["join"]);
    expect(socket.listenerCount("state")).toBe(1);
    presence.detach();
    expect(presence.eventNames()).toEqual([]);
    expect(socket.eventNames().map((e) => [e, socket.listenerCount(e)])).toEqual(before);
  });

  it("rethrows a throwing Presence listener on a microtask (Presence has no error event) and keeps syncing", async () => {
    const { Presence } = await import("../../src/presence/index.js");
    const socket = make();
    const presence = new Presence(socket, { space: "office", member: "me" });
    const bug = new Error("sync listener bug");
    presence.on("sync", () => {
      throw bug;
    });
    const uncaught = await collectUncaught(() => {
      socket.connect();
      transport.last.open();
      const sync = JSON.parse(String(transport.last.sent[0])) as { space: string };
      transport.last.message(
        JSON.stringify({ $presence: "snapshot", v: 1, space: sync.space, epoch: "e", rev: 1, members: [] }),
      );
    });
    expect(uncaught).toEqual([bug]);
    expect(presence.phase).toBe("synced");
    presence.detach();
  });
});
