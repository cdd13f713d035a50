/**
 * An in-process network between ResilientSocket clients and a PresenceHub on the virtual clock: every
 * message, open and close travels with a fixed latency (FIFO per direction, as on a real socket), so tests
 * drive everything with `clock.advance` and count every message up and down per connection.
 */
import type { ConnectionHandlers, Transport } from "../../src/index.js";
import { ResilientSocket, type VirtualClock } from "../../src/index.js";
import {
  type PresenceConnection,
  PresenceHub,
  type PresenceHubOptions,
} from "../../src/server/presence/index.js";

/** One connection between a client and the hub. */
export interface Link {
  readonly id: string;
  readonly client: string;
  /** Texts the client sent, in order. */
  readonly up: string[];
  /** Texts the hub sent, in order. */
  readonly down: string[];
  open: boolean;
  /** The server drops the connection (the hub sees a disconnect at once, the client after the latency). */
  drop(): void;
}

export class LoopbackNet {
  readonly links: Link[] = [];
  hub: PresenceHub;
  /** While true, connection attempts fail. */
  refusing = false;
  private seq = 0;

  constructor(
    readonly clock: VirtualClock,
    private readonly hubOptions: PresenceHubOptions = {},
    readonly latencyMs = 1,
  ) {
    this.hub = new PresenceHub({ clock, ...hubOptions });
  }

  /** Links of one client, oldest first. */
  of(client: string): Link[] {
    return this.links.filter((link) => link.client === client);
  }

  /** A crash and restart: every link dropped, a fresh hub (the roster is lost). */
  restart(): void {
    for (const link of this.links) link.drop();
    this.hub.close();
    this.hub = new PresenceHub({ clock: this.clock, ...this.hubOptions });
  }

  /** A transport for client `client` whose connections reach the current hub. */
  transport(client: string): Transport {
    return { name: "loopback", connect: (handlers) => this.connect(client, handlers) };
  }

  /** A ResilientSocket over this net with small deterministic delays. */
  socket(client: string): ResilientSocket {
    const socket = new ResilientSocket({
      transport: this.transport(client),
      clock: this.clock,
      random: () => 0.5,
      autoConnect: false,
      circuitBreaker: false,
      stableAfterMs: 100,
      connectTimeoutMs: 1_000,
    });
    // Errors are not what these tests look at; unheard, each socket would print its one warning (unheard.ts).
    return socket.on("error", () => {});
  }

  private later(action: () => void): void {
    this.clock.setTimeout(action, this.latencyMs);
  }

  private connect(client: string, handlers: ConnectionHandlers) {
    const hub = this.hub;
    const id = `${client}#${++this.seq}`;
    const connection: PresenceConnection = {
      id,
      send: (text) => {
        if (!link.open) throw new Error("closed");
        link.down.push(text);
        this.later(() => link.open && handlers.message(text));
      },
    };
    let cancelled = this.refusing;
    const link: Link = {
      id,
      client,
      up: [],
      down: [],
      open: false,
      drop: () => {
        if (!link.open) {
          // Still opening: the handshake will fail instead.
          cancelled = true;
          return;
        }
        link.open = false;
        hub.disconnect(connection);
        this.later(() => handlers.close({ kind: "closed", code: 1006 }));
      },
    };
    this.links.push(link);
    this.later(() => {
      if (cancelled) handlers.close({ kind: "error" });
      else {
        link.open = true;
        handlers.open();
      }
    });
    return {
      send: (data: unknown) => {
        if (!link.open) throw new Error("not open");
        const text = String(data);
        link.up.push(text);
        this.later(() => link.open && hub.receive(connection, text));
      },
      close: () => {
        if (!link.open) return;
        link.open = false;
        this.later(() => hub.disconnect(connection));
      },
    };
  }
}
