/** The runnable examples keep working and stop by themselves (they are documented in the README). */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const tsx = join(root, "node_modules", ".bin", "tsx");

describe("examples", () => {
  it("node-websocket reconnects after the server restarts and flushes the queued message", async () => {
    const { stdout } = await run(tsx, ["examples/node-websocket.ts"], { cwd: root, timeout: 20_000 });
    expect(stdout).toMatch(/retry #1 in \d+ ms \(cause: (hint|backoff), server asked 300 ms\)/);
    expect(stdout).toMatch(/message: echo: queued while down/);
    expect(stdout).toMatch(/done: \{"attempts":2,"connections":2\}/);
  }, 30_000);

  it("node-socket-io obeys a middleware refusal's hint and a drain notice", async () => {
    const { stdout } = await run(tsx, ["examples/node-socket-io.ts"], { cwd: root, timeout: 20_000 });
    expect(stdout).toMatch(/connect-error hint 400 ms/);
    expect(stdout).toMatch(/drain hint 200 ms/);
    expect(stdout).toMatch(/done: \{"handshakes":3,"connections":2,"attempts":3\}/);
  }, 30_000);

  it("the browser example reconnects in real Chromium after the server's 1012 and flushes the queued message", async () => {
    const { stdout } = await run(tsx, ["examples/browser/serve.ts"], { cwd: root, timeout: 40_000 });
    // The hint (1–2 s) is read; the default backoff's first draw (waveJitter, up to 1.5 s) wins when later.
    expect(stdout).toMatch(/\[page\] .* retry #1 in \d+ ms \((hint|backoff), server asked 1000 ms\)/);
    expect(stdout).toMatch(/\[page\] .* send #2: queued/);
    expect(stdout).toMatch(/\[page\] .* message: echo: hello #2/);
    expect(stdout).toMatch(/done: the page reconnected after the restart and flushed the queued message/);
  }, 60_000);
});
