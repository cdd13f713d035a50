/**
 * The virtual office: a page where every visitor is an avatar with an emoji, in a room, at a position —
 * presence synced through the hub. This script serves the page, the client bundled on the fly by esbuild,
 * and a `ws` server with the PresenceHub on /ws, all on 127.0.0.1.
 *
 *   npm run example:office -- [--port 0] [--exit-after-ms 60000] [--grace-ms 30000]
 *
 * Open the printed address in two windows (`?name=ann`, `?name=bob`). "Drop my connection" asks the server
 * to cut this page's socket: the page counts down to its next retry and comes back inside the grace
 * period, and the other window sees nothing happen. It stops by itself after `--exit-after-ms` (default 10
 * minutes), or on Ctrl-C.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { attachPresenceToWs, PresenceHub } from "resilient-reconnect/server";
import { WebSocketServer } from "ws";

const here = import.meta.dirname;

/** The app message a page sends to have the server cut its connection (to watch a reconnect). */
export const DROP_ME = "drop-me";

export interface OfficeOptions {
  /** Default 0: any free port. */
  port?: number;
  /** The hub's grace period (ms). Default the hub's, 30,000. */
  graceMs?: number;
}

export interface Office {
  readonly url: string;
  readonly hub: PresenceHub;
  /** Stops the hub, every socket and the HTTP server. */
  close(): Promise<void>;
}

/** Bundles the page's script (imports of `resilient-reconnect/*` resolve through tsconfig paths to src). */
async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [join(here, "client.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    tsconfig: join(here, "..", "..", "tsconfig.json"),
    logLevel: "silent",
  });
  const [file] = result.outputFiles;
  if (file === undefined) throw new Error("esbuild produced no output for client.ts");
  return file.text;
}

export async function startOffice(options: OfficeOptions = {}): Promise<Office> {
  const [html, script] = await Promise.all([readFile(join(here, "index.html"), "utf8"), bundleClient()]);
  const http = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    if (path === "/" || path === "/index.html") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    } else if (path === "/client.js") {
      response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(script);
    } else response.writeHead(404, { "content-type": "text/plain" }).end("not found");
  });
  const hub = new PresenceHub(options.graceMs === undefined ? {} : { graceMs: options.graceMs });
  // maxPayload: ws's default is 100 MiB, and the hub's 64 KiB limit can only run after a frame is buffered.
  const wss = new WebSocketServer({ server: http, path: "/ws", maxPayload: 64 * 1_024 });
  wss.on("connection", (ws) => {
    ws.on("error", () => {});
    ws.on("message", (data, isBinary) => {
      if (!isBinary && String(data) === DROP_ME) ws.terminate();
    });
  });
  const detach = attachPresenceToWs(hub, wss);
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    hub,
    close() {
      closing ??= (async () => {
        detach();
        hub.close();
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

function intFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`--${name} must be an integer >= ${min}; got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      "exit-after-ms": { type: "string" },
      "grace-ms": { type: "string" },
    },
  });
  const office = await startOffice({
    port: intFlag("port", values.port, 0),
    graceMs: intFlag("grace-ms", values["grace-ms"], 0),
  });
  console.log(`virtual office on ${office.url}  (open ${office.url}?name=ann and ${office.url}?name=bob)`);
  // Stops by itself: after 10 minutes unless told otherwise (Ctrl-C stops it sooner).
  const exitAfter = intFlag("exit-after-ms", values["exit-after-ms"] ?? "600000", 1);
  const stop = () => {
    clearTimeout(timer);
    void office.close().then(() => console.log("virtual office closed"));
  };
  const timer = exitAfter === undefined ? undefined : setTimeout(stop, exitAfter);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) await main();
