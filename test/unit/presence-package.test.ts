/**
 * `resilient-reconnect/presence` runs in browser tabs: its entry bundles for the browser with no Node
 * built-ins and nothing from node_modules (the server hub is a separate, Node-only entry).
 */
import { join } from "node:path";
import { build } from "esbuild";
import { expect, it } from "vitest";

it("bundles src/presence/index.ts for the browser without Node built-ins or dependencies", async () => {
  const result = await build({
    entryPoints: [join(import.meta.dirname, "..", "..", "src", "presence", "index.ts")],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.length).toBeGreaterThan(3);
  expect(
    inputs.filter((i) => i.startsWith("node:") || i.includes("node_modules") || i.includes("server/")),
  ).toEqual([]);
});
