/** `npm run bench:presence` keeps working: run small, it writes its figures and stops by itself. */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");

interface Results {
  memory: { bytesPerMember: number };
  broadcast: { microsPerUpdate: number; diffBytes: number }[];
  cold: { totalMs: number }[];
  storms: { graceMs: number; joinLeaveEvents: number; joinLeaveBroadcast: number; upPerReconnect: number }[];
}

describe("bench:presence", () => {
  it("measures a small space and a small reconnect storm, writes results.json and results.md, and exits", async () => {
    const out = mkdtempSync(join(tmpdir(), "presence-bench-"));
    try {
      const args = ["--members", "300", "--clients", "30", "--repeat", "1", "--out", out];
      await run("node", ["--expose-gc", "--import", "tsx", "bench/presence-hub.ts", ...args], {
        cwd: root,
        timeout: 60_000,
      });
      const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as Results;
      expect(results.memory.bytesPerMember).toBeGreaterThan(0);
      expect(results.broadcast).toHaveLength(2);
      for (const figure of results.broadcast) expect(figure.diffBytes).toBeGreaterThan(0);
      expect(results.cold).toHaveLength(4);
      const [inside, none] = results.storms;
      expect(inside).toMatchObject({
        graceMs: 30_000,
        joinLeaveEvents: 0,
        joinLeaveBroadcast: 0,
        upPerReconnect: 1,
      });
      expect(none?.joinLeaveEvents).toBeGreaterThan(0);
      expect(readFileSync(join(out, "results.md"), "utf8")).toContain("# Presence hub figures");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 90_000);
});
