/**
 * The live storm cannot rot: `bench/live/run.ts` runs end to end at small N over both transports, with real
 * servers and real client populations in child processes, exactly as `npm run bench:live` and `npm start`
 * run it. Checked: every kind gets all its clients back and every figure is reported — not the figures of
 * the full-size runs (those are measurements).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("live storm bench", () => {
  it.each(["socket.io", "ws"])(
    "brings every client of every kind back over %s and writes results.json, results.md and chart.svg",
    async (transport) => {
      const out = mkdtempSync(join(tmpdir(), "live-"));
      dirs.push(out);
      await run(
        process.execPath,
        [
          "--import",
          "tsx",
          "bench/live/run.ts",
          "--transport",
          transport,
          "--clients",
          "40",
          "--capacity",
          "40",
          "--restart-ms",
          "200",
          "--horizon-s",
          "30",
          "--kinds",
          "baseline,ours,ours-no-hints",
          "--parallel",
          "--quiet",
          "--out",
          out,
        ],
        { timeout: 50_000 },
      );
      const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
      expect(json).toMatchObject({ transport, clients: 40, capacity: 40, parallel: true });
      expect(json.strategies.map((s: { kind: string }) => s.kind)).toEqual([
        "baseline",
        "ours",
        "ours-no-hints",
      ]);
      for (const strategy of json.strategies) {
        expect(strategy.recovered, `${strategy.kind} did not get every client back`).toBe(true);
        // Every client came back through the restarted server, so it saw at least one attempt each.
        expect(strategy.attemptsSeen).toBeGreaterThanOrEqual(40);
        expect(strategy.serverCpuMs).toBeGreaterThan(0);
      }
      expect(json.oursOverBaseline.attemptsSeen).toBeGreaterThan(0);
      expect(readFileSync(join(out, "results.md"), "utf8")).toContain("| attempts the server saw |");
      const svg = readFileSync(join(out, "chart.svg"), "utf8");
      // Per kind: connected clients, and attempts per second under the capacity line; a title and a caption.
      expect(svg.match(/<polyline/g)).toHaveLength(6);
      expect(svg).toContain("capacity C = 40 admits/s");
      expect(svg).toContain("N/C = 1.0 s is the physical limit");
    },
    60_000,
  );
});
