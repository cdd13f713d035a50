/**
 * The layers of DESIGN.md hold: a wire format lives in src/protocol/, which both halves import, so the server
 * never imports from the client's folders and the protocol layer imports nothing above it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const src = join(import.meta.dirname, "..", "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? files(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every relative module a file imports or re-exports, as a path under src/ ("client/delivery.ts"). */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g)].map((m) =>
    relative(src, resolve(dirname(file), m[1] ?? "")).replace(/\.js$/, ".ts"),
  );
}

/** `file imports target` for each import of the files under `folder` that starts with one of `forbidden`. */
function crossings(folder: string, forbidden: string[]): string[] {
  return files(join(src, folder)).flatMap((file) =>
    imports(file)
      .filter((target) => forbidden.some((prefix) => target.startsWith(prefix)))
      .map((target) => `${relative(src, file)} imports ${target}`),
  );
}

describe("the layers", () => {
  it("finds a crossing when there is one (the check itself works)", () => {
    expect(crossings("presence", ["protocol/"]).length).toBeGreaterThan(0);
  });

  it("keeps the server out of the client's folders: wire formats come from protocol/", () => {
    expect(crossings("server", ["client/", "presence/", "transports/", "websocket/", "socket-io/"])).toEqual(
      [],
    );
  });

  it("keeps protocol/ below everything that speaks it", () => {
    const above = ["client/", "presence/", "server/", "transports/", "websocket/", "socket-io/", "policy/"];
    expect(crossings("protocol", above)).toEqual([]);
  });
});
