/**
 * The io() figures cannot rot: the live storm's `io` kind with `--recovery` and the recovery bench run end
 * to end at small N, exactly as `npm run bench:live` and `npm run bench:recovery` run them. Checked: every
 * client comes back and every figure is reported — not the figures of the full-size runs.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function outDir(): string {
  const out = mkdtempSync(join(tmpdir(), "io-bench-"));
  dirs.push(out);
  return out;
}

describe("the io() benches", () => {
  it("brings every io() client back in the live storm with connectionStateRecovery on, beside socket.io-client", async () => {
    const out = outDir();
    await run(
      process.execPath,
      [
        "--import",
        "tsx",
        "bench/live/run.ts",
        ...["--clients", "30", "--capacity", "30", "--restart-ms", "200", "--horizon-s", "30"],
        ...["--kinds", "baseline,io", "--recovery", "--parallel", "--quiet", "--out", out],
      ],
      { timeout: 50_000 },
    );
    const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(json).toMatchObject({ transport: "socket.io", clients: 30, connectionStateRecovery: true });
    expect(json.strategies.map((s: { kind: string }) => s.kind)).toEqual(["baseline", "io"]);
    for (const strategy of json.strategies) expect(strategy.recovered).toBe(true);
    expect(typeof json.ioOverBaseline.attemptsSeen).toBe("number");
    expect(readFileSync(join(out, "results.md"), "utf8")).toMatch(/io\(\) ÷ socket.io-client defaults/);
    expect(existsSync(join(out, "chart.svg"))).toBe(true);
  }, 60_000);

  it("reports the recovered share of both kinds after a network drop", async () => {
    const out = outDir();
    await run(
      process.execPath,
      ["--import", "tsx", "bench/live/recovery.ts", "--clients", "20", "--drop-ms", "200", "--out", out],
      { timeout: 50_000 },
    );
    const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(json.results.map((r: { kind: string }) => r.kind)).toEqual(["socket.io-client", "io()"]);
    const governed = json.results[1];
    expect(governed.allBack).toBe(true);
    expect(governed.recoveredShare).toBe(1);
    expect(governed.missedEventsDeliveredShare).toBe(1);
    expect(readFileSync(join(out, "chart.svg"), "utf8")).toMatch(/<svg/);
  }, 60_000);
});
