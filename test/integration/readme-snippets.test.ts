/**
 * The README's quick starts run as a newcomer would paste them: Node snippets as ESM and as CommonJS (the
 * built package, `dist/`, reached by its own name), browser snippets bundled by esbuild into one IIFE and run
 * in real Chromium. Each must connect to a loopback server, receive the echo, and stop by itself.
 *
 * The convention (so the README can be rewritten freely): a fenced block whose info string is
 * ```` ```ts runnable=node ```` or ```` ```ts runnable=browser ```` (also `js`) is run by this test; any other
 * block is illustration. A runnable snippet prints `got <message>` when the echo arrives and then closes its
 * socket. Its example addresses are pointed at the loopback servers: `wss://example.test/…` and
 * `ws://127.0.0.1:8080` at a `ws` echo server, `https://example.test` at a Socket.IO echo server.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { build, type Plugin, transform } from "esbuild";
import { Server as SocketIoServer } from "socket.io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
// Inside the package (so `resilient-reconnect` resolves to itself, as for a user's app) and gitignored.
const workDir = join(root, "bench", "results", "readme-snippets");

interface Snippet {
  readonly target: "node" | "browser";
  readonly code: string;
  readonly line: number;
}

/** Every runnable block of the README, with the line it starts on. */
function snippets(): Snippet[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const found: Snippet[] = [];
  for (const match of readme.matchAll(/^```(?:ts|js) runnable=(node|browser)\n([\s\S]*?)^```$/gm)) {
    const line = readme.slice(0, match.index).split("\n").length;
    found.push({ target: match[1] as Snippet["target"], code: match[2] ?? "", line });
  }
  return found;
}

let http: Server;
let io: SocketIoServer;
let wsUrl = "";
let ioUrl = "";

beforeAll(async () => {
  http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (ws) => ws.on("message", (data) => ws.send(`echo: ${String(data)}`)));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  wsUrl = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  io = new SocketIoServer();
  io.on("connection", (socket) => socket.on("message", (data) => socket.emit("message", { echo: data })));
  const ioHttp = createServer();
  io.attach(ioHttp);
  await new Promise<void>((resolve) => ioHttp.listen(0, "127.0.0.1", resolve));
  ioUrl = `http://127.0.0.1:${(ioHttp.address() as AddressInfo).port}`;
  mkdirSync(workDir, { recursive: true });
});

afterAll(async () => {
  await new Promise((resolve) => io.close(resolve));
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
});

/** The snippet with its example addresses pointed at the loopback servers. */
function local(code: string): string {
  return code
    .replaceAll(
      /wss:\/\/example\.test(\/[\w/]*)?/g,
      (_all, path: string | undefined) => `${wsUrl}${path ?? ""}`,
    )
    .replaceAll("ws://127.0.0.1:8080", wsUrl)
    .replaceAll("https://example.test", ioUrl);
}

/** Resolves the package's own name to `dist/`, as an app bundling the published package would. */
const ownPackage: Plugin = {
  name: "own-package",
  setup(b) {
    b.onResolve({ filter: /^resilient-reconnect(\/.*)?$/ }, (args) => {
      const sub = args.path.slice("resilient-reconnect".length).replace(/^\//, "") || "index";
      return { path: join(root, "dist", `${sub.replace(".", "-")}.js`) };
    });
  },
};

describe("README quick starts", () => {
  const all = snippets();

  it("has runnable quick starts for Node and for the browser", () => {
    expect(all.filter((s) => s.target === "node").length).toBeGreaterThanOrEqual(3);
    expect(all.filter((s) => s.target === "browser").length).toBeGreaterThanOrEqual(3);
  });

  for (const snippet of all.filter((s) => s.target === "node")) {
    for (const format of ["esm", "cjs"] as const) {
      it(`runs the Node snippet at README line ${snippet.line} as ${format.toUpperCase()}, gets the echo and exits`, async () => {
        const { code } = await transform(local(snippet.code), { loader: "ts", format, target: "node20" });
        const file = join(workDir, `line-${snippet.line}.${format === "esm" ? "mjs" : "cjs"}`);
        writeFileSync(file, code);
        const { stdout } = await run(process.execPath, [file], { cwd: root, timeout: 15_000 });
        expect(stdout).toMatch(/^got /m);
      }, 20_000);
    }
  }

  it("runs every browser snippet, bundled by esbuild, in real Chromium: each gets its echo without a page error", async () => {
    const browserSnippets = all.filter((s) => s.target === "browser");
    const bundles: string[] = [];
    for (const snippet of browserSnippets) {
      const result = await build({
        stdin: { contents: local(snippet.code), loader: "ts", resolveDir: root },
        bundle: true,
        format: "iife",
        platform: "browser",
        write: false,
        plugins: [ownPackage],
        logLevel: "silent",
      });
      bundles.push(result.outputFiles[0]?.text ?? "");
    }
    // A page per snippet, served from 127.0.0.1 (a secure context: SharedSocket's Web Locks need one).
    const pages = createServer((request, response) => {
      const index = Number(request.url?.slice(1));
      response.writeHead(200, { "content-type": "text/html" });
      response.end(`<!doctype html><script>${bundles[index] ?? ""}</script>`);
    });
    await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve));
    const { chromium } = await import("playwright");
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    try {
      for (const [index, snippet] of browserSnippets.entries()) {
        const page = await browser.newPage();
        const logs: string[] = [];
        page.on("console", (message) => logs.push(message.text()));
        page.on("pageerror", (error) => logs.push(`pageerror: ${error.message}`));
        await page.goto(`http://127.0.0.1:${(pages.address() as AddressInfo).port}/${index}`);
        const deadline = performance.now() + 10_000;
        while (!logs.some((l) => l.startsWith("got ")) && performance.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(
          logs.filter((l) => l.startsWith("pageerror")),
          `README line ${snippet.line}`,
        ).toEqual([]);
        expect(
          logs.some((l) => l.startsWith("got ")),
          `README line ${snippet.line}: ${logs.join(" | ")}`,
        ).toBe(true);
        await page.close();
      }
    } finally {
      await browser.close();
      await new Promise((resolve) => pages.close(resolve));
    }
  }, 60_000);
});
