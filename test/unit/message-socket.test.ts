/**
 * The named socket interface: ResilientSocket and SharedSocket implement MessageSocket (type-checked by
 * `npm run typecheck`, through expectTypeOf), message data takes a type parameter, and Presence runs over any
 * MessageSocket — a hand-written one here, not a ResilientSocket — and refuses a shared one.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  type DropEvent,
  type MessageSocket,
  type MessageSocketEvents,
  ResilientSocket,
  type SendResult,
  type SharedMessageSocket,
  type SharedSocket,
  type SocketState,
  VirtualClock,
} from "../../src/index.js";
import { encodePresence } from "../../src/internals.js";
import { Presence, SharedPresence } from "../../src/presence/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

interface Chat {
  readonly text: string;
}

describe("the socket types", () => {
  it("types inbound and outbound data by the socket's type parameters, unknown by default", () => {
    const socket = new ResilientSocket<Chat, string>({
      transport: new FakeTransport(() => 0),
      autoConnect: false,
    });
    socket.on("message", (data) => expectTypeOf(data).toEqualTypeOf<Chat>());
    expectTypeOf(socket.send).parameter(0).toEqualTypeOf<string>();
    expectTypeOf(socket.sendNow).parameter(0).toEqualTypeOf<string>();
    // @ts-expect-error a socket typed to send strings refuses an object
    expect(() => socket.send({ text: "hi" })).not.toThrow();
    const plain = new ResilientSocket({ transport: new FakeTransport(() => 0), autoConnect: false });
    plain.on("message", (data) => expectTypeOf(data).toEqualTypeOf<unknown>());
    expectTypeOf(plain.send).parameter(0).toEqualTypeOf<unknown>();
    void socket.close();
    void plain.close();
  });

  it("makes ResilientSocket a MessageSocket and SharedSocket a SharedMessageSocket of the same data types", () => {
    expectTypeOf<ResilientSocket<Chat, string>>().toExtend<MessageSocket<Chat, string>>();
    expectTypeOf<ResilientSocket>().toExtend<MessageSocket>();
    expectTypeOf<SharedSocket<Chat, string>>().toExtend<SharedMessageSocket<Chat, string>>();
    expectTypeOf<SharedSocket>().toExtend<MessageSocket>();
    expectTypeOf<ResilientSocket>().not.toExtend<SharedMessageSocket>();
    expectTypeOf<ResilientSocket>().toHaveProperty("shared").toEqualTypeOf<false>();
    expectTypeOf<SharedSocket>().toHaveProperty("shared").toEqualTypeOf<true>();
  });

  it("lets presence take a socket that sends strings, and not one typed to send something else", () => {
    expectTypeOf<ResilientSocket>().toExtend<ConstructorParameters<typeof Presence>[0]>();
    expectTypeOf<ResilientSocket<unknown, string>>().toExtend<ConstructorParameters<typeof Presence>[0]>();
    expectTypeOf<ResilientSocket<Chat, Chat>>().not.toExtend<ConstructorParameters<typeof Presence>[0]>();
    expectTypeOf<SharedSocket>().toExtend<ConstructorParameters<typeof SharedPresence>[0]>();
    expectTypeOf<ResilientSocket>().not.toExtend<ConstructorParameters<typeof SharedPresence>[0]>();
  });
});

/** The least MessageSocket there is: records what it sends and opens when told. */
class HandMadeSocket implements MessageSocket<unknown, string> {
  readonly shared = false;
  state: SocketState = "idle";
  readonly sent: string[] = [];
  private readonly listeners = new Map<keyof MessageSocketEvents, Set<(...args: never[]) => void>>();

  send(data: string): SendResult {
    return this.sendNow(data) ? "sent" : "dropped";
  }
  sendNow(data: string): boolean {
    if (this.state !== "open") return false;
    this.sent.push(data);
    return true;
  }
  connect(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
  on<E extends keyof MessageSocketEvents>(event: E, listener: MessageSocketEvents[E]): this {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener as (...args: never[]) => void);
    this.listeners.set(event, set);
    return this;
  }
  once<E extends keyof MessageSocketEvents>(event: E, listener: MessageSocketEvents[E]): this {
    return this.on(event, listener);
  }
  off<E extends keyof MessageSocketEvents>(event: E, listener?: MessageSocketEvents[E]): this {
    if (listener === undefined) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(listener as (...args: never[]) => void);
    return this;
  }
  moveTo(state: SocketState): void {
    const previous = this.state;
    this.state = state;
    for (const listener of this.listeners.get("state") ?? [])
      (listener as MessageSocketEvents["state"])(state, previous);
  }
  receive(data: unknown): void {
    for (const listener of this.listeners.get("message") ?? [])
      (listener as MessageSocketEvents["message"])(data);
  }
  listenerTotal(): number {
    let total = 0;
    for (const set of this.listeners.values()) total += set.size;
    return total;
  }
}

describe("presence over the interface", () => {
  it("syncs over a hand-made MessageSocket when it opens, applies the answer, and syncs again after a drop", () => {
    const clock = new VirtualClock(0);
    const socket = new HandMadeSocket();
    const presence = new Presence(socket, {
      space: "office",
      member: "me",
      clock,
      initial: { room: "lobby" },
    });
    expect(socket.sent).toEqual([]);
    socket.moveTo("open");
    expect(socket.sent.map((text) => JSON.parse(text).$presence)).toEqual(["sync"]);
    socket.receive(
      encodePresence({
        type: "snapshot",
        space: "office",
        epoch: "e1",
        rev: 1,
        members: [{ id: "ann", state: { room: "lobby" } }],
      }),
    );
    expect(presence.phase).toBe("synced");
    expect([...presence.roster.keys()]).toEqual(["ann"]);
    socket.moveTo("waiting");
    expect(presence.phase).toBe("offline");
    socket.moveTo("open");
    expect(socket.sent.map((text) => JSON.parse(text).$presence)).toEqual(["sync", "sync"]);
    presence.detach();
    expect(socket.listenerTotal()).toBe(0);
  });

  it("refuses a socket that says it is shared by tabs, naming SharedPresence", () => {
    const socket = Object.assign(new HandMadeSocket(), { shared: true });
    expect(() => new Presence(socket, { space: "office", member: "me" })).toThrow(
      new TypeError(
        "Presence: socket must be an unshared socket (for a SharedSocket, use SharedPresence); got an object",
      ),
    );
  });

  it("refuses a socket that is not shared for SharedPresence", () => {
    const socket = new HandMadeSocket() as unknown as SharedMessageSocket<unknown, string>;
    expect(() => new SharedPresence(socket, { space: "office", member: "me" })).toThrow(
      new TypeError("SharedPresence: socket must be a SharedSocket; got an object"),
    );
  });

  it("reports a dropped message with the event every MessageSocket has", () => {
    const seen: DropEvent[] = [];
    const socket: MessageSocket = new ResilientSocket({
      transport: new FakeTransport(() => 0),
      autoConnect: false,
      queue: { maxMessages: 0 },
    });
    socket.on("drop", (event) => seen.push(event));
    expect(socket.send("x")).toBe("dropped");
    expect(seen).toEqual([{ data: "x", reason: "overflow" }]);
    void socket.close();
  });
});
