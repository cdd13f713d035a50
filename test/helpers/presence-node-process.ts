/**
 * One presence hub node as its own process, for the SIGKILL test: a real `ws` server on 127.0.0.1 port 0
 * with a `redisRosterStore` on the Redis at `--redis-port`, short heartbeat and grace (from the arguments).
 * Prints `presence node on ws://127.0.0.1:<port>/`; exits by itself after `--exit-after-ms` so a test run
 * that dies cannot leave it behind. `startPresenceNode()` runs it with tsx from a test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");

export interface PresenceNodeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves once it has exited. */
  readonly exited: Promise<unknown>;
}

/** Starts a node process; resolves once it listens. */
export function startPresenceNode(args: Record<string, string | number>): Promise<PresenceNodeProcess> {
  const argv = Object.entries(args).flatMap(([key, value]) => [`--${key}`, String(value)]);
  // node --import tsx, not the tsx CLI: the CLI runs the script in a child process, which SIGKILL would miss.
  const child = spawn(process.execPath, ["--import", "tsx", import.meta.filename, ...argv], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`presence node did not start within 20 s:\n${output}`));
    }, 20_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += String(chunk);
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      output += String(chunk);
      const url = /presence node on (ws:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      resolve({ url, child, exited });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`presence node exited before it listened:\n${output}`));
    });
  });
}

async function main(): Promise<void> {
  const { Redis } = await import("ioredis");
  const { WebSocketServer } = await import("ws");
  const { attachPresenceToWs, PresenceHub } = await import("../../src/server/presence/index.js");
  const { redisRosterStore } = await import("../../src/server/redis/index.js");
  const arg = (name: string) => {
    const at = process.argv.indexOf(`--${name}`);
    return at < 0 ? undefined : process.argv[at + 1];
  };
  const redis = new Redis(Number(arg("redis-port")), "127.0.0.1", { maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  const store = redisRosterStore({
    redis,
    nodeId: arg("node-id"),
    prefix: arg("prefix"),
    heartbeatMs: Number(arg("heartbeat-ms") ?? 50),
    ownershipTtlMs: Number(arg("ownership-ttl-ms") ?? 200),
  });
  const hub = new PresenceHub({ store, graceMs: Number(arg("grace-ms") ?? 300), batchMs: 10 });
  const http = createServer();
  attachPresenceToWs(hub, new WebSocketServer({ server: http }));
  http.listen(0, "127.0.0.1", () => {
    console.log(`presence node on ws://127.0.0.1:${(http.address() as AddressInfo).port}/`);
  });
  setTimeout(() => process.exit(0), Number(arg("exit-after-ms") ?? 60_000)).unref();
}

if (process.argv[1] === import.meta.filename) void main();
