/** `npm run example:chat` keeps working, stops by itself, and its two clients differ only where promised. */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const dir = join(root, "examples", "socket-io-chat");

describe("the socket-io-chat example", () => {
  it("runs both clients through a blip (both recovered) and a restart (both rejoin), then stops", async () => {
    const { stdout } = await run(
      join(root, "node_modules", ".bin", "tsx"),
      ["examples/socket-io-chat/run.ts"],
      {
        cwd: root,
        timeout: 40_000,
      },
    );
    expect(stdout).toMatch(/bob joined lobby \(\d here, recovered: true\)/);
    expect(stdout).toMatch(/alice joined lobby \(\d here, recovered: true\)/);
    expect(stdout).toMatch(/bob sees alice: back after the deploy/);
    expect(stdout).toMatch(/done: \{"recoveredAfterBlip":\["(bob","alice|alice","bob)"\],"messages":4\}/);
  }, 60_000);

  it("has two client files that differ in the import line and the options line only", () => {
    const plain = readFileSync(join(dir, "client-plain.ts"), "utf8").split("\n");
    const ours = readFileSync(join(dir, "client-resilient.ts"), "utf8").split("\n");
    expect(ours).toHaveLength(plain.length);
    const changed = plain.flatMap((line, i) => (line === ours[i] ? [] : [[line, ours[i]]]));
    expect(changed).toEqual([
      ['import { io } from "socket.io-client";', 'import { io } from "resilient-reconnect/socket.io";'],
      [
        '  const socket = io(url, { auth: { name }, transports: ["websocket"] });',
        '  const socket = io(url, { auth: { name }, transports: ["websocket"], queue: { maxMessages: 100 } });',
      ],
    ]);
  });
});
