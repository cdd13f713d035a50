/**
 * Rules of the package that no single behaviour test would notice breaking: the root and WebSocket entries
 * bundle for the browser with no Node built-ins and no socket.io-client, and nothing outside env.ts reads
 * the clock, sets timers or draws randomness.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { stripPrivateDocs } from "../../scripts/strip-private-docs.js";

const root = join(import.meta.dirname, "..", "..");
/** The runtime dependencies the package declares (eventemitter3): the only node_modules a bundle may hold. */
const declared = Object.keys(
  (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies?: object }).dependencies ??
    {},
);

async function browserInputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  return Object.keys(result.metafile.inputs);
}

/** One line of source without its comments and string literals (good enough for this codebase's style). */
function withoutCommentsAndStrings(line: string): string {
  return line.replace(/"(?:[^"\\]|\\.)*"|`[^`]*`|\/\*.*?(\*\/|$)|\/\/.*$|^\s*\*.*$/g, "");
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

describe("package rules", () => {
  for (const entry of ["src/index.ts", "src/websocket.ts", "src/presence/index.ts"]) {
    it(`bundles ${entry} for the browser without Node built-ins, undeclared dependencies or server code`, async () => {
      const inputs = await browserInputs(entry);
      expect(inputs.length).toBeGreaterThan(3);
      const allowed = (i: string) => declared.some((name) => i.startsWith(`node_modules/${name}/`));
      expect(
        inputs.filter(
          (i) =>
            i.startsWith("node:") || (i.includes("node_modules") && !allowed(i)) || i.includes("server/"),
        ),
      ).toEqual([]);
    });
  }

  it("takes implementation notes out of declarations: JSDoc of private and @internal members goes, the rest stays", () => {
    const declaration = [
      "declare class A {",
      "    /** The state now. */",
      "    get state(): string;",
      "    /**",
      "     * Six closures would cost some 400 bytes.",
      "     */",
      "    private outboxLink;",
      "    /** @internal */",
      "    protected sync(): void;",
      "    /** Closes it. */",
      "    close(): void;",
      "}",
    ].join("\n");
    expect(stripPrivateDocs(declaration)).toBe(
      [
        "declare class A {",
        "    /** The state now. */",
        "    get state(): string;",
        "    private outboxLink;",
        "    protected sync(): void;",
        "    /** Closes it. */",
        "    close(): void;",
        "}",
      ].join("\n"),
    );
  });

  it("ships declarations without the source's notes on private members (after npm run build)", () => {
    const dist = join(root, "dist");
    const declarations = readdirSync(dist).filter((name) => /\.d\.c?ts$/.test(name));
    expect(declarations.length).toBeGreaterThan(5);
    for (const name of declarations) {
      const text = readFileSync(join(dist, name), "utf8");
      expect(text, name).not.toMatch(/\*\/\s*\n\s*private\b/);
      expect(text, name).not.toContain("@internal");
    }
  });

  it("keeps Date.now, setTimeout, setInterval and Math.random inside src/env.ts", () => {
    const offenders = sourceFiles(join(root, "src"))
      .filter((file) => !file.endsWith(join("src", "env.ts")))
      .flatMap((file) =>
        readFileSync(file, "utf8")
          .split("\n")
          .map((line, i) => ({
            line: withoutCommentsAndStrings(line),
            at: `${relative(root, file)}:${i + 1}`,
          }))
          .filter(({ line }) =>
            /\bDate\.now\b|(?<![.\w])setTimeout\b|\bsetInterval\b|\bMath\.random\b/.test(line),
          )
          .map(({ at }) => at),
      );
    expect(offenders).toEqual([]);
  });
});
