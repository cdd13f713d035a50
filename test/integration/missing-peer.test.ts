/**
 * What an app sees when it imports `resilient-reconnect/socket.io` without installing the socket.io-client
 * peer (docs/socket-io.md): the built package (`dist/`) copied into a temporary folder's `node_modules` with
 * its one dependency and without socket.io-client, loaded by a real Node process as ESM and as CommonJS. A
 * static import fails before any code of ours runs, so the resolver's message is what names the package.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
let app: string;

beforeAll(() => {
  if (!existsSync(join(root, "dist", "socket-io.js"))) throw new Error("build first: npm run build");
  app = mkdtempSync(join(tmpdir(), "rr-missing-peer-"));
  const modules = join(app, "node_modules");
  const pkg = join(modules, "resilient-reconnect");
  mkdirSync(pkg, { recursive: true });
  // Copies, not links: Node resolves a link to its real path, where the repo's socket.io-client would be found.
  cpSync(join(root, "dist"), join(pkg, "dist"), { recursive: true });
  cpSync(join(root, "package.json"), join(pkg, "package.json"));
  cpSync(join(root, "node_modules", "eventemitter3"), join(modules, "eventemitter3"), { recursive: true });
});

afterAll(() => {
  if (app !== undefined) rmSync(app, { recursive: true, force: true });
});

function node(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: app, timeout: 10_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? null), stdout, stderr });
    });
  });
}

describe("resilient-reconnect/socket.io without socket.io-client installed", () => {
  it("has no socket.io-client anywhere Node would look from the app (the premise of these tests)", async () => {
    const found = await node(["-e", "require.resolve('socket.io-client')"]);
    expect(found.code).not.toBe(0);
  });

  it("fails an ESM import with the resolver's error, which names socket.io-client", async () => {
    const run = await node(["--input-type=module", "-e", "await import('resilient-reconnect/socket.io')"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("ERR_MODULE_NOT_FOUND");
    expect(run.stderr).toMatch(
      /Cannot find package 'socket\.io-client' imported from .*resilient-reconnect[\\/]dist[\\/]socket-io\.js/,
    );
  });

  it("fails a CommonJS require with the resolver's error, which names socket.io-client", async () => {
    const run = await node(["-e", "require('resilient-reconnect/socket.io')"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Cannot find module 'socket.io-client'");
  });

  it("leaves the root and the WebSocket entries working (they never load socket.io-client)", async () => {
    const run = await node([
      "--input-type=module",
      "-e",
      "const a = await import('resilient-reconnect'); const b = await import('resilient-reconnect/websocket'); console.log(typeof a.ResilientSocket, typeof b.ResilientWebSocket)",
    ]);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe("function function");
  });
});
