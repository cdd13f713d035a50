/**
 * The browser example, runnable with one command:
 *
 *   npm run example:browser            runs the page in headless Chromium, prints what it logs, stops
 *   npm run example:browser -- --serve serves it on http://127.0.0.1:<port>/ for your own browser (10 min, or Ctrl-C)
 *
 * One local server: the page (index.html and main.ts, bundled for the browser by esbuild) and a `ws` echo
 * server on /live that "restarts" every few seconds — it closes every client with 1012 (Service Restart) and
 * a hint to come back in 1–2 s, and refuses connections for one second. The page shows its state and the
 * countdown to its next attempt; messages sent while it is down are queued and flushed in order.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { WebSocketServer } from "ws";

const { values } = parseArgs({
  options: {
    serve: { type: "boolean", default: false },
    port: { type: "string", default: "0" },
    "restart-every-ms": { type: "string", default: "4000" },
  },
});
const here = import.meta.dirname;
const bundle = await build({
  entryPoints: [join(here, "main.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  write: false,
  logLevel: "error",
  tsconfig: join(here, "..", "..", "tsconfig.json"),
});
const page = readFileSync(join(here, "index.html"));
const script = bundle.outputFiles[0]?.contents ?? new Uint8Array();

let refusing = false;
// maxPayload: ws's default is 100 MiB per message; refuse big frames before they are buffered.
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1_024 });
wss.on("connection", (ws) => {
  ws.send("welcome");
  ws.on("message", (data) => ws.send(`echo: ${String(data)}`));
});
const http = createServer((request, response) => {
  const body = request.url === "/main.js" ? script : request.url === "/" ? page : undefined;
  if (body === undefined) {
    response.writeHead(request.url === "/favicon.ico" ? 204 : 404).end();
    return;
  }
  response.writeHead(200, { "content-type": request.url === "/" ? "text/html" : "text/javascript" });
  response.end(body);
});
http.on("upgrade", (request, socket, head) => {
  if (request.url !== "/live" || refusing) {
    socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
});
const restart = setInterval(() => {
  for (const ws of wss.clients) ws.close(1012, JSON.stringify({ retryAfterMs: 1000, spreadMs: 1000 }));
  refusing = true;
  setTimeout(() => {
    refusing = false;
  }, 1000);
}, Number(values["restart-every-ms"]));
await new Promise<void>((resolve) => http.listen(Number(values.port), "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;

if (values.serve) {
  console.log(`serving ${url} — open it in a browser; stops by itself after 10 minutes, or on Ctrl-C`);
  const stop = () => {
    clearInterval(restart);
    for (const ws of wss.clients) ws.terminate();
    http.close();
    http.closeAllConnections();
  };
  setTimeout(stop, 600_000).unref();
  process.once("SIGINT", stop);
} else {
  const { chromium } = await import("playwright");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  try {
    const tab = await browser.newPage();
    tab.on("console", (message) => console.log(`[page] ${message.text()}`));
    await tab.goto(url);
    const stateIs = (state: string) =>
      tab.waitForFunction((s) => document.getElementById("state")?.textContent === s, state, {
        timeout: 15_000,
      });
    await stateIs("open");
    await tab.click("#send");
    await stateIs("waiting"); // the server's restart
    await tab.click("#send"); // queued while down
    await stateIs("open");
    await tab.waitForFunction(() => document.getElementById("log")?.textContent?.includes("echo: hello #2"), {
      timeout: 15_000,
    });
    console.log("done: the page reconnected after the restart and flushed the queued message");
  } finally {
    await browser.close();
    clearInterval(restart);
    for (const ws of wss.clients) ws.terminate();
    http.close();
  }
}
