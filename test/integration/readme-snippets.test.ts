/**
 * The README's quick starts run as a newcomer would paste them, against the built package (`dist/`, reached
 * by its own name as from a user's `node_modules`).
 *
 * The convention (so the README can be rewritten freely; CONTRIBUTING.md "Code blocks in the README"):
 * - ```` ```js runnable=node ```` is a whole Node program whose first line names its file (`// ws.mjs`). It
 *   starts its own server on 127.0.0.1, shows a reconnect, prints a line starting `reconnected` and exits by
 *   itself with code 0. It runs as written (ES module), and also as CommonJS (esbuild turns its imports into
 *   `require`) when it has no top-level await, which CommonJS cannot have.
 * - ```` ```js runnable=browser ```` and ```` ```html runnable=browser ```` are the files of the browser quick
 *   start, each named by its first line (`// server.mjs`, `<!-- index.html -->`). They are written into one
 *   folder whose `node_modules/resilient-reconnect` is this package; `node server.mjs` runs with `PORT=0` and
 *   prints the address it got; the page, opened in real Chromium, must show the echo, a retry on the server's
 *   hint after its 1012 restart, and the echo again. So must the page's module script bundled by esbuild into
 *   one IIFE, as an app's bundler would.
 * - Every other TypeScript or JavaScript block is ```` ```ts fragment ```` (test/unit/docs.test.ts checks it).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build, type Plugin, transformSync } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
// Inside the package (so `resilient-reconnect` resolves to itself, as for a user's app) and gitignored.
const workDir = join(root, "bench", "results", "readme-snippets");

interface Block {
  readonly target: "node" | "browser";
  /** The document it is in: README.md or docs/….md. */
  readonly source: string;
  /** The file name its first line gives. */
  readonly file: string;
  readonly code: string;
  readonly line: number;
}

/** Every runnable block of the README and the guides, with its file name and the line it starts on. */
function runnableBlocks(): Block[] {
  const guides = readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`);
  const found: Block[] = [];
  for (const source of ["README.md", ...guides]) {
    const markdown = readFileSync(join(root, source), "utf8");
    for (const match of markdown.matchAll(/^```(?:js|ts|html) runnable=(node|browser)\n([\s\S]*?)^```$/gm)) {
      const code = match[2] ?? "";
      const line = markdown.slice(0, match.index).split("\n").length;
      const file = /^(?:\/\/|<!--)\s*([\w.-]+\.(?:mjs|cjs|js|html))\b/.exec(code)?.[1];
      if (file === undefined)
        throw new Error(`${source} line ${line}: a runnable block must name its file first`);
      found.push({ target: match[1] as Block["target"], source, file, code, line });
    }
  }
  return found;
}

/** The program as CommonJS, or undefined when it cannot be one (top-level await). */
function asCommonJs(code: string): string | undefined {
  try {
    return transformSync(code, { loader: "js", format: "cjs", target: "node20" }).code;
  } catch (error) {
    if (/top-level await/i.test(String(error))) return undefined;
    throw error;
  }
}

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a file with Node and resolves when it exits by itself (a timeout is a failure, not a kill-and-pass). */
function runNode(file: string): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd: workDir, timeout: 45_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr: error?.killed ? `${stderr}\n(killed after 45 s)` : stderr });
    });
  });
}

const blocks = runnableBlocks();
const nodePrograms = blocks.filter((b) => b.target === "node");
const browserFiles = blocks.filter((b) => b.target === "browser");
mkdirSync(workDir, { recursive: true });

describe("the README's Node quick starts", () => {
  it("has the three Node quick starts (ws, Socket.IO, drop-in WebSocket) and a CommonJS one in docs/", () => {
    const inReadme = nodePrograms.filter((b) => b.source === "README.md").map((b) => b.file);
    expect(inReadme).toEqual(["ws.mjs", "sio.mjs", "rws.mjs"]);
    expect(nodePrograms.filter((b) => b.file.endsWith(".cjs")).map((b) => b.source)).toEqual([
      "docs/commonjs.md",
    ]);
    // At least one README quick start has no top-level await, so it also runs as CommonJS.
    expect(nodePrograms.some((b) => b.file.endsWith(".mjs") && asCommonJs(b.code) !== undefined)).toBe(true);
  });

  for (const program of nodePrograms) {
    const written = program.file.endsWith(".cjs") ? "CommonJS" : "ESM";
    const formats: Array<[string, string, string]> = [[written, program.file, program.code]];
    const commonJs = program.file.endsWith(".mjs") ? asCommonJs(program.code) : undefined;
    if (commonJs !== undefined) {
      formats.push(["CommonJS, turned by esbuild", program.file.replace(/\.mjs$/, ".cjs"), commonJs]);
    }
    for (const [format, file, code] of formats) {
      it(`runs ${program.file} (${program.source} line ${program.line}) as ${format}: it reconnects and exits by itself with code 0`, async () => {
        const path = join(workDir, file);
        writeFileSync(path, code);
        const result = await runNode(path);
        const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
        expect(result.code, output).toBe(0);
        expect(result.stdout, output).toMatch(/^reconnected\b/m);
        expect(result.stdout, output).toMatch(/^(message: |state: open|open #|ack: )/m);
      }, 60_000);
    }
  }
});

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

/** The page with its module script bundled by esbuild into one classic script (no import map needed). */
async function bundledPage(html: string): Promise<string> {
  const moduleScript = /<script type="module">([\s\S]*?)<\/script>/.exec(html);
  if (moduleScript === null) throw new Error("index.html has no module script");
  const result = await build({
    stdin: { contents: moduleScript[1] ?? "", loader: "js", resolveDir: root },
    bundle: true,
    format: "iife",
    platform: "browser",
    write: false,
    plugins: [ownPackage],
    logLevel: "silent",
  });
  const script = (result.outputFiles[0]?.text ?? "").replaceAll("</script", "<\\/script");
  return html
    .replace(/<script type="importmap">[\s\S]*?<\/script>/, "")
    .replace(moduleScript[0], () => `<script>${script}</script>`);
}

const servers: ChildProcess[] = [];

afterAll(async () => {
  for (const server of servers) {
    if (server.exitCode !== null || server.signalCode !== null) continue;
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill();
    await exited;
  }
});

interface QuickStartServer {
  readonly url: string;
  readonly output: () => string;
  readonly stop: () => Promise<void>;
}

/**
 * Writes the browser quick start's files into a folder laid out as `npm install resilient-reconnect ws`
 * leaves it (the package, with its dist/, and its dependency in node_modules/), with `index.html` replaced
 * when `page` is given, and runs `node server.mjs` there with PORT=0; resolves with the address it prints.
 */
async function startQuickStart(name: string, page?: string): Promise<QuickStartServer> {
  const folder = join(workDir, name);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(join(folder, "node_modules"), { recursive: true });
  symlinkSync(root, join(folder, "node_modules", "resilient-reconnect"), "dir");
  symlinkSync(
    join(root, "node_modules", "eventemitter3"),
    join(folder, "node_modules", "eventemitter3"),
    "dir",
  );
  for (const block of browserFiles) writeFileSync(join(folder, block.file), block.code);
  if (page !== undefined) writeFileSync(join(folder, "index.html"), page);

  const server = spawn(process.execPath, ["server.mjs"], {
    cwd: folder,
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  servers.push(server);
  let output = "";
  server.stderr?.on("data", (chunk) => {
    output += String(chunk);
  });
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout?.on("data", (chunk) => {
      output += String(chunk);
      const address = /http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (address !== null && address[1] !== "0") resolve(address[0]);
    });
    server.once("exit", (code) => reject(new Error(`server.mjs exited (${code}): ${output}`)));
  });
  return {
    url,
    output: () => output,
    stop: async () => {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill();
      await exited;
    },
  };
}

describe("the README's browser quick start", () => {
  it("has its two files, server.mjs and index.html", () => {
    expect(browserFiles.map((b) => b.file).sort()).toEqual(["index.html", "server.mjs"]);
  });

  it("serves index.html with `node server.mjs`; the page in Chromium (as written, and bundled by esbuild) gets the echo, obeys the 1012 restart's hint and gets the echo again", async () => {
    const html = browserFiles.find((b) => b.file === "index.html")?.code ?? "";
    const [asWritten, bundled] = await Promise.all([
      startQuickStart("browser"),
      bundledPage(html).then((page) => startQuickStart("browser-bundled", page)),
    ]);
    const { chromium } = await import("playwright");
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    const runs = [
      { name: "as written", server: asWritten },
      { name: "bundled", server: bundled },
    ];
    try {
      const errors: string[] = [];
      const pages = await Promise.all(
        runs.map(async ({ name, server }) => {
          const page = await browser.newPage();
          page.on("pageerror", (error) => errors.push(`${name}: ${error.message}`));
          await page.goto(server.url);
          return page;
        }),
      );

      // The echo, then a retry on the server's hint (close 1012 every 5 s), then the echo again.
      const reconnected =
        /message: echo: hello\n[\s\S]*retry #\d+ in \d+ ms \(hint\)\n[\s\S]*message: echo: hello/;
      const logs = async () => Promise.all(pages.map((page) => page.textContent("#log")));
      const deadline = performance.now() + 40_000;
      let seen = await logs();
      while (!seen.every((log) => reconnected.test(log ?? "")) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        seen = await logs();
      }
      expect(errors).toEqual([]);
      for (const [index, { name, server }] of runs.entries()) {
        const log = seen[index] ?? "";
        expect(log, `${name}:\n${log}\nserver:\n${server.output()}`).toMatch(reconnected);
      }
    } finally {
      await browser.close();
      await Promise.all(runs.map(({ server }) => server.stop()));
    }
    for (const { server } of runs) expect(server.output()).not.toMatch(/Error/);
  }, 90_000);
});
