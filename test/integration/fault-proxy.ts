/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of a real server, that can black-hole traffic: in that mode it
 * forwards nothing in either direction but keeps every TCP connection open — a half-open link as a client
 * sees it when the server's host froze or a middlebox dropped the flow. New connections are then accepted
 * and never answered (a handshake that hangs).
 */

import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket | undefined;
}

export class FaultProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private blackholed = false;

  private constructor(private readonly targetPort: number) {
    this.server = createServer((client) => this.adopt(client));
  }

  static async start(targetPort: number): Promise<FaultProxy> {
    const proxy = new FaultProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops forwarding in both directions; connections stay open and new ones are accepted but unanswered. */
  blackhole(): void {
    this.blackholed = true;
    for (const { client, upstream } of this.pairs) {
      if (upstream === undefined) continue;
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Forwards again — for connections made from now on (black-holed ones stay dead, as after a real outage). */
  restore(): void {
    this.blackholed = false;
  }

  /**
   * Ends a black-hole in place, as a network partition that heals: connections that lived through it forward
   * again (what was written meanwhile is delivered late, in order); ones accepted during it are reset.
   */
  heal(): void {
    this.blackholed = false;
    for (const { client, upstream } of [...this.pairs]) {
      if (upstream === undefined) {
        client.destroy();
        continue;
      }
      client.pipe(upstream);
      upstream.pipe(client);
    }
  }

  async stop(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private adopt(client: Socket): void {
    client.on("error", () => {});
    if (this.blackholed) {
      // Accepted, read, never answered.
      const pair = { client, upstream: undefined };
      this.pairs.add(pair);
      client.once("close", () => this.pairs.delete(pair));
      client.resume();
      return;
    }
    const upstream = connect(this.targetPort, "127.0.0.1");
    upstream.on("error", () => {});
    const pair = { client, upstream };
    this.pairs.add(pair);
    const release = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once("close", release);
    upstream.once("close", release);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
