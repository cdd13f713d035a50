/**
 * The storm lab cannot rot: every scenario runs at small N through the code the CLI runs, and a few facts
 * that hold at any size are checked — not the figures of the full-size runs (those are measurements).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseStormArgs, parseSweepArgs, runCli, UsageError } from "../../bench/storm/cli.js";
import { toJson } from "../../bench/storm/report.js";
import { runStorm, type StormReport } from "../../bench/storm/run.js";
import { SCENARIO_NAMES, type ScenarioName, scenarioConfig } from "../../bench/storm/scenarios.js";
import type { StrategyResult } from "../../bench/storm/simulate.js";

const SMALL = { clients: 2000, capacity: 200 } as const;
const reports = new Map<ScenarioName, StormReport>();
const small = (scenario: ScenarioName): StormReport => {
  let report = reports.get(scenario);
  if (report === undefined) {
    report = runStorm(scenarioConfig(scenario, SMALL));
    reports.set(scenario, report);
  }
  return report;
};
const strategy = (report: StormReport, id: string): StrategyResult => {
  const found = report.strategies.find((s) => s.id === id);
  if (found === undefined) throw new Error(`no strategy ${id} in ${report.scenario}`);
  return found;
};

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("storm simulation", () => {
  for (const scenario of SCENARIO_NAMES) {
    it(`runs ${scenario} at small N for every strategy and reports every figure`, () => {
      const report = small(scenario);
      expect(report).toMatchObject({ scenario, clients: 2000, capacity: 200, physicalLimitS: 10 });
      expect(report.strategies.map((s) => s.id)).toEqual([
        "socketio",
        "incident",
        "partysocket",
        "aws",
        "ours",
        "ours-hints",
      ]);
      for (const s of report.strategies) {
        for (const ratio of [s.t50Ratio, s.t99Ratio, s.t100Ratio]) {
          if (ratio !== null) expect(ratio).toBeGreaterThanOrEqual(0);
        }
        expect(s.attemptsPerClient).toBeGreaterThanOrEqual(1);
        expect(s.peakAttemptsPer100ms).toBeGreaterThan(0);
        expect(s.downstreamCalls).toBeGreaterThanOrEqual(2000 * 20);
        expect(Number.isInteger(s.crashes) && s.crashes >= 0).toBe(true);
        // The floor is the best a scheme with this strategy's first wave could do: never worse than the run.
        if (s.t99OverIdeal !== null) expect(s.floorT99OverIdeal).toBeLessThanOrEqual(s.t99OverIdeal);
        expect(s.floorLiveAttemptsPerClient).toBeGreaterThanOrEqual(1);
        expect(s.floorLiveAttemptsPerClient).toBeLessThanOrEqual(s.liveAttemptsPerClient + 0.001);
        const series = report.series[s.name];
        expect(series?.connected.length).toBeGreaterThan(0);
        expect(series?.attemptsPerSecond.length).toBeGreaterThan(0);
      }
    });
  }

  it("gives byte-identical results for the same seed and different ones for another", () => {
    const config = scenarioConfig("mass-drop", SMALL);
    const first = toJson(runStorm(config, ["socketio", "ours", "ours-hints"]));
    const again = toJson(runStorm(config, ["socketio", "ours", "ours-hints"]));
    const other = toJson(runStorm({ ...config, seed: 2 }, ["socketio", "ours", "ours-hints"]));
    expect(again).toBe(first);
    expect(other).not.toBe(first);
  });

  it("brings a mass drop back near N/C with about one refusal per client when the server gives hints", () => {
    const ours = strategy(small("mass-drop"), "ours-hints");
    expect(ours.recovered).toBe(true);
    expect(ours.crashes).toBe(0);
    expect(ours.attemptsPerClient).toBeLessThanOrEqual(2.5);
    expect(ours.t99Ratio).toBeLessThanOrEqual(1.5);
  });

  it("brings a drained deploy back in one attempt per client at the drain's pace", () => {
    const ours = strategy(small("deploy-drain"), "ours-hints");
    expect(ours.crashes).toBe(0);
    expect(ours.attemptsPerClient).toBeLessThanOrEqual(1.05);
    expect(ours.t99Ratio).toBeLessThanOrEqual(1.1);
  });

  it("survives a brownout without a restart when the server gives hints", () => {
    const ours = strategy(small("brownout"), "ours-hints");
    expect(ours.crashes).toBe(0);
    expect(ours.t95Ratio).not.toBeNull();
  });

  it("keeps socket.io-client's defaults down after a mass drop at N/C = 50: refusals eat the capacity", () => {
    const config = scenarioConfig("mass-drop", { clients: 20_000, capacity: 400, horizonMs: 300_000 });
    const [socketIo] = runStorm(config, ["socketio"]).strategies;
    expect(socketIo?.recovered).toBe(false);
    expect(socketIo?.connectedAtEnd).toBeLessThan(0.1);
  });
});

describe("storm CLI", () => {
  it("writes results.json, results.md and chart.svg", () => {
    const out = mkdtempSync(join(tmpdir(), "storm-"));
    dirs.push(out);
    const printed: string[] = [];
    const status = runCli(
      ["--scenario", "small-storm", "--clients", "500", "--capacity", "100", "--seed", "7", "--out", out],
      { out: (t) => printed.push(t), err: () => {} },
    );
    expect(status).toBe(0);
    const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(json).toMatchObject({ scenario: "small-storm", clients: 500, capacity: 100, seed: 7 });
    expect(Object.keys(json.strategies[0]).sort()).toEqual(
      expect.arrayContaining([
        "name",
        "recovered",
        "t50Ratio",
        "t99Ratio",
        "t100Ratio",
        "attemptsPerClient",
        "peakAttemptsPer100ms",
        "peakToMean",
        "downstreamCalls",
        "crashes",
      ]),
    );
    expect(readFileSync(join(out, "results.md"), "utf8")).toContain("| ours with hints | yes |");
    const svg = readFileSync(join(out, "chart.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(12);
    expect(printed.join("")).toContain("wrote");
  });

  it.each([
    [["--out", "x"], "--scenario"],
    [["--scenario", "storm", "--out", "x"], "--scenario"],
    [["--scenario", "mass-drop"], "--out"],
    [["--scenario", "mass-drop", "--out", "x", "--clients", "many"], "--clients"],
    [["--scenario", "mass-drop", "--out", "x", "--capacity", "0"], "--capacity"],
    [["--scenario", "mass-drop", "--out", "x", "--refusal-cost", "-1"], "--refusal-cost"],
    [["--scenario", "mass-drop", "--out", "x", "--horizon-s", "NaN"], "--horizon-s"],
    [["--scenario", "mass-drop", "--out", "x", "--down-failure", "slow"], "--down-failure"],
    [["--scenario", "quick-restart", "--out", "x", "--outage-s", "-3"], "--outage-s"],
    [["--scenario", "mass-drop", "--out", "x", "--strategies", "socketio,nope"], "--strategies"],
    [["--scenario", "mass-drop", "--out", "x", "--bogus", "1"], "--bogus"],
    [["--scenario", "brownout", "--out", "x", "--brownout-s", "0"], "--brownout-s"],
    [["--scenario", "brownout", "--out", "x", "--brownout-share", "1.5"], "--brownout-share"],
  ])("rejects %j with a message naming %s", (argv, flag) => {
    expect(() => parseStormArgs(argv)).toThrow(UsageError);
    expect(() => parseStormArgs(argv)).toThrow(flag);
  });

  it("runs a sweep over a small grid and writes every point, the worst cases and the chart", () => {
    const out = mkdtempSync(join(tmpdir(), "sweep-"));
    dirs.push(out);
    const printed: string[] = [];
    const argv = ["--sweep", "--sweep-clients", "400", "--sweep-capacity", "100", "--sweep-seeds", "1"];
    const status = runCli(
      [...argv, "--sweep-refusal-cost", "0.25", "--sweep-scenarios", "quick-restart,brownout", "--out", out],
      { out: (t) => printed.push(t), err: () => {} },
    );
    expect(status).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "sweep.json"), "utf8"));
    expect(report.points.map((p: { scenario: string }) => p.scenario)).toEqual(["quick-restart", "brownout"]);
    const [restart, brownout] = report.points;
    // Side by side: ours with hints and without, socket.io-client where it copes, the brownout's yardstick.
    expect(restart.hints.recovered && restart.plain.recovered && restart.socketIo.recovered).toBe(true);
    expect(brownout.polling.periodMs).toBeGreaterThan(0);
    expect(brownout.hints.floorLiveAttemptsPerClient).toBeLessThanOrEqual(
      brownout.hints.liveAttemptsPerClient,
    );
    expect(readFileSync(join(out, "sweep.md"), "utf8")).toContain("## Worst case per scenario");
    expect(readFileSync(join(out, "sweep.svg"), "utf8").startsWith("<svg")).toBe(true);
    expect(printed.join("")).toContain("| brownout |");
  });

  it("runs ours with hints alone with --sweep-hints-only", () => {
    const out = mkdtempSync(join(tmpdir(), "sweep-"));
    dirs.push(out);
    const status = runCli(
      [
        ...["--sweep", "--sweep-hints-only", "--sweep-clients", "400", "--sweep-capacity", "100"],
        ...["--sweep-seeds", "1", "--sweep-refusal-cost", "0.5", "--sweep-scenarios", "small-storm,brownout"],
        ...["--out", out],
      ],
      { out: () => {}, err: () => {} },
    );
    expect(status).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "sweep.json"), "utf8"));
    expect(report.grid.hintsOnly).toBe(true);
    for (const point of report.points) {
      expect(point.hints.id).toBe("ours-hints");
      expect([point.plain, point.socketIo, point.polling]).toEqual([undefined, undefined, undefined]);
    }
  });

  it.each([
    [["--sweep", "--sweep-clients", "0"], "--sweep-clients"],
    [["--sweep", "--sweep-scenarios", "storm"], "--sweep-scenarios"],
    [["--sweep", "--sweep-hints-only=yes"], "sweep-hints-only"],
  ])("rejects the sweep flags %j with a message naming %s", (argv, flag) => {
    expect(() => parseSweepArgs(argv)).toThrow(UsageError);
    expect(() => parseSweepArgs(argv)).toThrow(flag);
  });

  it("exits with status 2 and the usage on a bad flag", () => {
    const errors: string[] = [];
    const status = runCli(["--scenario", "mass-drop", "--out", "x", "--fanout", "lots"], {
      out: () => {},
      err: (t) => errors.push(t),
    });
    expect(status).toBe(2);
    expect(errors.join("")).toMatch(/--fanout must be a number >= 0; got "lots"[\s\S]*usage:/);
  });
});
