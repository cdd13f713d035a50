/**
 * Bundle size side by side, one method for all: each import bundled by esbuild for the browser (minified,
 * tree-shaken, every dependency included), then gzip level 9 — ours next to the peers users compare us with.
 *
 * Then where the root entry's bytes go: the same import bundled from the sources, minified, each source
 * file's share of the output (before gzip, which cannot be split by file); and what it would weigh with
 * the page signals, the breaker and the heartbeat replaced by empty stand-ins.
 *
 *   npm run bench:size   (builds first)  → bench/results/bundle-size/results.{json,md}
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type BuildOptions, type BuildResult, build } from "esbuild";

const root = join(import.meta.dirname, "..");
const cases: { name: string; code: string }[] = [
  {
    name: "resilient-reconnect: ResilientSocket",
    code: `export { ResilientSocket } from "./dist/index.js";`,
  },
  {
    name: "resilient-reconnect: ResilientSocket + webSocketTransport",
    code: `export { ResilientSocket } from "./dist/index.js"; export { webSocketTransport } from "./dist/websocket.js";`,
  },
  {
    name: "resilient-reconnect: ResilientWebSocket",
    code: `export { ResilientWebSocket } from "./dist/websocket.js";`,
  },
  { name: "resilient-reconnect: SharedSocket", code: `export { SharedSocket } from "./dist/index.js";` },
  { name: "resilient-reconnect: Presence (client)", code: `export { Presence } from "./dist/presence.js";` },
  {
    name: "resilient-reconnect: SharedSocket + SharedPresence",
    code: `export { SharedSocket } from "./dist/index.js"; export { SharedPresence } from "./dist/presence.js";`,
  },
  { name: "socket.io-client 4.8: io", code: `export { io } from "socket.io-client";` },
  { name: "partysocket 1.3: WebSocket", code: `export { WebSocket } from "partysocket";` },
  { name: "reconnecting-websocket 4.4", code: `export { default } from "reconnecting-websocket";` },
];

/** One bundle for the browser, minified, every dependency included (the one method for every row). */
const bundle = (code: string, options: Partial<BuildOptions> = {}) =>
  build({
    stdin: { contents: code, resolveDir: root, loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
    ...options,
  });
/** Minified and gzip (level 9) sizes of a bundle's output. */
const measure = (result: BuildResult) => {
  const bytes = result.outputFiles?.[0]?.contents ?? new Uint8Array();
  return { minBytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
};

const rows = [];
for (const { name, code } of cases) rows.push({ name, ...measure(await bundle(code)) });

/** `resilient-reconnect/socket.io` with socket.io-client itself left out (the app has it already). */
const withoutClient = { external: ["socket.io-client"] };
const rootAlone = measure(await bundle(`export { ResilientSocket } from "./dist/index.js";`, withoutClient));
const ioAlone = measure(await bundle(`export { io } from "./dist/socket-io.js";`, withoutClient));
/** What `name` from the socket.io entry adds to a bundle that has `ResilientSocket` already. */
const onTopOfRoot = async (name: string) => {
  const both = measure(
    await bundle(
      `export { ResilientSocket } from "./dist/index.js"; export { ${name} } from "./dist/socket-io.js";`,
      withoutClient,
    ),
  );
  return { minBytes: both.minBytes - rootAlone.minBytes, gzipBytes: both.gzipBytes - rootAlone.gzipBytes };
};
const socketIoRows = [
  { name: "io() (the policy core included)", ...ioAlone },
  { name: "io() on top of ResilientSocket (what the face adds)", ...(await onTopOfRoot("io")) },
  {
    name: "socketIoTransport",
    ...measure(await bundle(`export { socketIoTransport } from "./dist/socket-io.js";`, withoutClient)),
  },
  {
    // The pipe is only ever used under ResilientSocket, SharedSocket or Presence: this is what it costs an app.
    name: "socketIoTransport on top of ResilientSocket (what the pipe adds)",
    ...(await onTopOfRoot("socketIoTransport")),
  },
];

const sources = await bundle(`export { ResilientSocket } from "./src/index.ts";`, { metafile: true });
const output = Object.values(sources.metafile?.outputs ?? {})[0];
const shares = Object.entries(output?.inputs ?? {})
  .map(([file, { bytesInOutput }]) => ({ file, minBytes: bytesInOutput }))
  .filter((share) => share.minBytes > 0)
  .sort((a, b) => b.minBytes - a.minBytes);

/**
 * What the protections cost: the same import with some modules replaced by empty stand-ins (a build-time
 * experiment, not a configuration anyone can ship: the socket would lose the protection). It tells how
 * small the root entry could get if they were opt-in.
 */
const STAND_INS: Record<string, string> = {
  "page-signals.ts":
    "export class PageSignals {} export function resolveSignals() {} export function isTarget() { return false; }",
  "circuit-breaker.ts":
    "export class CircuitBreaker {} export function resolveCircuitBreakerOptions() { return false; } export const defaultCircuitBreakerOptions = {};",
  "liveness.ts": "export class Liveness {}",
};
const withoutSets: { without: string[]; name: string }[] = [
  { without: [], name: "everything (as shipped)" },
  { without: ["page-signals.ts"], name: "without page signals" },
  { without: ["page-signals.ts", "circuit-breaker.ts"], name: "without page signals and breaker" },
  {
    without: ["page-signals.ts", "circuit-breaker.ts", "liveness.ts"],
    name: "without page signals, breaker and heartbeat",
  },
];
const without = [];
for (const { without: off, name } of withoutSets) {
  const result = await bundle(`export { ResilientSocket } from "./src/client/resilient-socket.ts";`, {
    plugins: [
      {
        name: "stand-ins",
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, ({ path }) => {
            const file = off.find((candidate) => path.endsWith(`/${candidate}`));
            return file === undefined ? undefined : { contents: STAND_INS[file], loader: "ts" };
          });
        },
      },
    ],
  });
  without.push({ name, ...measure(result) });
}

const kB = (n: number) => `${(n / 1000).toFixed(2)} kB`;
let md = "| import | min | min+gzip |\n|---|---:|---:|\n";
for (const r of rows) md += `| ${r.name} | ${kB(r.minBytes)} | ${kB(r.gzipBytes)} |\n`;
md +=
  "\n`resilient-reconnect/socket.io`, socket.io-client itself excluded:\n\n| import | min | min+gzip |\n|---|---:|---:|\n";
for (const r of socketIoRows) md += `| ${r.name} | ${kB(r.minBytes)} | ${kB(r.gzipBytes)} |\n`;
md += `\nWhere \`ResilientSocket\`'s bytes go (from the sources, minified, before gzip; ${kB(output?.bytes ?? 0)} in all):\n\n`;
md += "| source file | min |\n|---|---:|\n";
for (const share of shares) md += `| ${share.file} | ${kB(share.minBytes)} |\n`;
md +=
  "\n`ResilientSocket` with protections replaced by empty stand-ins (from the sources; not shippable):\n\n";
md += "| build | min | min+gzip |\n|---|---:|---:|\n";
for (const r of without) md += `| ${r.name} | ${kB(r.minBytes)} | ${kB(r.gzipBytes)} |\n`;
const out = join(root, "bench", "results", "bundle-size");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "results.json"),
  `${JSON.stringify({ bundles: rows, socketIo: socketIoRows, rootShares: shares, withoutProtections: without }, null, 2)}\n`,
);
writeFileSync(join(out, "results.md"), md);
process.stdout.write(`${md}\nwrote bench/results/bundle-size/results.{json,md}\n`);
