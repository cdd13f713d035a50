/**
 * `npm run bench:storm -- --sweep`: every scenario over a grid of populations N, admission rates C, refusal
 * costs r and seeds, so a result must hold across the grid and not at the tuned points only. Per point it
 * runs ours with hints (and the connect-time budget), ours without hints, and — in small-storm and
 * quick-restart at N / C ≤ 60 s, where socket.io-client copes — socket.io-client, side by side in one run; in
 * the brownout also the best of a family of constant polling periods (`./polling.ts`). Every result carries
 * its run's floor (`./floor.ts`). Writes sweep.json, sweep.md (the
 * worst case per scenario against the goals, then every point) and sweep.svg (T99 over ideal per point).
 *
 * The horizon of each point is its origin plus 4 × its ideal plus 2 minutes, so a large N / C is given time
 * to recover. The default grid is N 10k, 50k, 200k; C 300, 1,000, 5,000/s; r 0.25, 0.5; seeds 1, 2. Its
 * 144 points at N ≤ 50k took 201 s on a loaded two-core machine (`--sweep-clients 10000,50000`); the 72 at
 * N = 200,000 take about a minute or two each there.
 */
import { POLLING_PERIODS_MS, pollingAdmission } from "./polling.js";
import { buildScenario, SCENARIO_NAMES, type ScenarioName, scenarioConfig } from "./scenarios.js";
import { type StrategyResult, simulate } from "./simulate.js";
import { pickStrategies, type Strategy } from "./strategies.js";

export interface SweepGrid {
  readonly clients: readonly number[];
  readonly capacity: readonly number[];
  readonly refusalCost: readonly number[];
  readonly seeds: readonly number[];
  readonly scenarios: readonly ScenarioName[];
  /**
   * Ours with hints alone (no clients without hints, no socket.io-client, no polling yardstick): the goals with
   * hints over large populations, where the others take minutes a point (`--sweep-hints-only`).
   */
  readonly hintsOnly?: boolean;
}

export const DEFAULT_GRID: SweepGrid = {
  clients: [10_000, 50_000, 200_000],
  capacity: [300, 1_000, 5_000],
  refusalCost: [0.25, 0.5],
  seeds: [1, 2],
  scenarios: SCENARIO_NAMES,
};

/** Scenarios in which socket.io-client recovers at all, where ours without hints is held to it. */
const SOCKET_IO_COPES: readonly ScenarioName[] = ["small-storm", "quick-restart"];
/**
 * socket.io-client is run where N / C is at most this (s): past it, its 5 s cap keeps the whole population
 * retrying every few seconds for the whole horizon (hundreds of millions of simulated attempts at N = 200k)
 * and it does not recover anyway. Ours without hints runs at every point, and at large N / C crashes the
 * server over and over for the long horizon such an N / C needs (minutes of simulation per point at
 * N = 200k): `--sweep-hints-only` leaves it (and socket.io-client, and the brownout's polling yardstick) out,
 * for the hint results over large populations.
 */
const SOCKET_IO_MAX_NC_S = 60;

export interface SweepPoint {
  readonly scenario: ScenarioName;
  readonly clients: number;
  readonly capacity: number;
  readonly refusalCost: number;
  readonly seed: number;
  readonly idealS: number;
  readonly hints: StrategyResult;
  /** Ours without hints; only where N / C ≤ 60 s. */
  readonly plain?: StrategyResult;
  readonly socketIo?: StrategyResult;
  /**
   * Brownout only: the best T99 over the ideal of a hint server that answers every refusal with one
   * constant polling period (`./polling.ts`), same clients and budget, and that period (ms).
   */
  readonly polling?: { readonly t99OverIdeal: number | null; readonly periodMs: number };
}

/** The best of the constant polling periods at one point (the lowest T99 over the ideal; never = worst). */
function bestPolling(
  run: (setup: ReturnType<typeof pollingAdmission>) => StrategyResult,
): NonNullable<SweepPoint["polling"]> {
  let best: NonNullable<SweepPoint["polling"]> | undefined;
  for (const periodMs of POLLING_PERIODS_MS) {
    const { t99OverIdeal } = run(pollingAdmission(periodMs));
    const better =
      best === undefined ||
      (t99OverIdeal !== null && (best.t99OverIdeal === null || t99OverIdeal < best.t99OverIdeal));
    if (better) best = { t99OverIdeal, periodMs };
  }
  return best as NonNullable<SweepPoint["polling"]>;
}

export interface SweepReport {
  readonly grid: SweepGrid;
  readonly points: SweepPoint[];
}

export function runSweep(grid: SweepGrid = DEFAULT_GRID, progress?: (done: number, total: number) => void) {
  const points: SweepPoint[] = [];
  const total =
    grid.scenarios.length *
    grid.clients.length *
    grid.capacity.length *
    grid.refusalCost.length *
    grid.seeds.length;
  for (const scenario of grid.scenarios) {
    for (const clients of grid.clients)
      for (const capacity of grid.capacity)
        for (const refusalCost of grid.refusalCost)
          for (const seed of grid.seeds) {
            const withSocketIo =
              SOCKET_IO_COPES.includes(scenario) && clients / capacity <= SOCKET_IO_MAX_NC_S;
            const ids = grid.hintsOnly
              ? ["ours-hints"]
              : withSocketIo
                ? ["socketio", "ours", "ours-hints"]
                : ["ours", "ours-hints"];
            const strategies = pickStrategies(ids);
            const base = scenarioConfig(scenario, { clients, capacity, refusalCost, seed });
            const idealMs = buildScenario(base).idealMs;
            const origin = buildScenario(base).originMs;
            const horizonMs = Math.max(base.horizonMs, Math.ceil(origin + 4 * idealMs + 120_000));
            const built = buildScenario({ ...base, horizonMs });
            const results = strategies.map((s) => simulate(built, s, { options: { refusalCost } }).result);
            const by = (id: string) => results.find((r) => r.id === id) as StrategyResult;
            const point: SweepPoint = {
              scenario,
              clients,
              capacity,
              refusalCost,
              seed,
              idealS: idealMs / 1000,
              hints: by("ours-hints"),
              ...(ids.includes("ours") ? { plain: by("ours") } : {}),
              ...(ids.includes("socketio") ? { socketIo: by("socketio") } : {}),
              ...(scenario === "brownout" && !grid.hintsOnly
                ? {
                    polling: bestPolling(
                      (setup) =>
                        simulate(built, pickStrategies(["ours-hints"])[0] as Strategy, {
                          options: { refusalCost },
                          ...setup,
                        }).result,
                    ),
                  }
                : {}),
            };
            points.push(point);
            progress?.(points.length, total);
          }
  }
  return { grid, points } satisfies SweepReport;
}

/** The goal for ours with hints at every point: T99 within this many times the ideal. */
const T99_GOAL = 1.15;

const f = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits);
const maxOf = (xs: (number | null)[]) => (xs.some((x) => x === null) ? null : Math.max(...(xs as number[])));

/** T99 of ours without hints over socket.io-client's, at one point (null when either never got there). */
export function plainOverSocketIo(p: SweepPoint): number | null {
  const a = p.plain?.t99Ratio;
  const b = p.socketIo?.t99Ratio;
  return a === null || a === undefined || b === null || b === undefined ? null : a / b;
}

export function sweepMarkdown(report: SweepReport, command: string): string {
  const g = report.grid;
  const lines = [
    `# Storm sweep — ${report.points.length} points`,
    "",
    `N ∈ {${g.clients.join(", ")}}, C ∈ {${g.capacity.join(", ")}}/s, refusal cost ∈ {${g.refusalCost.join(", ")}}, ` +
      `seeds {${g.seeds.join(", ")}}. T99/ideal: (time to 99 % connected − origin) / what a perfect scheduler needs ` +
      "under the scenario's capacity. Live attempts: those that reached a running server. Floor: the best any " +
      "scheme could do whose first wave is the run's and which then knows the scenario (bench/storm/floor.ts); " +
      "a miss whose floor is over the goal too is out of reach for any scheme that starts as the run did. " +
      "Best constant polling (brownout only): the best of hint servers that answer every refusal with one " +
      `polling period (${POLLING_PERIODS_MS.map((p) => p / 1000).join(", ")} s; bench/storm/polling.ts), chosen in hindsight.`,
    "",
    `\`${command}\``,
    "",
    "## Worst case per scenario",
    "",
    "| scenario | hints: worst T99/ideal | hints: points over 1.15 (of which floor over 1.15) | hints: worst floor T99/ideal | hints: worst live attempts/client | hints: worst floor live attempts/client | hints: worst attempts/client | no hints: worst T99/ideal | no hints: worst T99 / socket.io-client's |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const scenario of g.scenarios) {
    const ps = report.points.filter((p) => p.scenario === scenario);
    const ratios = ps.map(plainOverSocketIo).filter((x): x is number => x !== null);
    const over = (x: number | null) => x === null || x > T99_GOAL;
    const misses = ps.filter((p) => over(p.hints.t99OverIdeal));
    const outOfReach = misses.filter((p) => over(p.hints.floorT99OverIdeal)).length;
    lines.push(
      `| ${scenario} | ${f(maxOf(ps.map((p) => p.hints.t99OverIdeal)))} | ${misses.length} (${outOfReach}) | ` +
        `${f(maxOf(ps.map((p) => p.hints.floorT99OverIdeal)))} | ${f(Math.max(...ps.map((p) => p.hints.liveAttemptsPerClient)))} | ` +
        `${f(Math.max(...ps.map((p) => p.hints.floorLiveAttemptsPerClient)))} | ` +
        `${f(Math.max(...ps.map((p) => p.hints.attemptsPerClient)))} | ${f(maxOf(ps.flatMap((p) => (p.plain === undefined ? [] : [p.plain.t99OverIdeal]))))} | ` +
        `${ratios.length === 0 ? "—" : f(Math.max(...ratios))} |`,
    );
  }
  lines.push(
    "",
    "## Every point",
    "",
    "| scenario | N | C/s | r | seed | ideal s | hints T99/ideal | floor T99/ideal | best constant polling T99/ideal (period) | hints live att. | floor live att. | hints att. | no hints T99/ideal | no hints att. | socket.io T99/ideal | no hints / socket.io |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const p of report.points) {
    lines.push(
      `| ${p.scenario} | ${p.clients} | ${p.capacity} | ${p.refusalCost} | ${p.seed} | ${f(p.idealS, 1)} | ${f(p.hints.t99OverIdeal)} | ` +
        `${f(p.hints.floorT99OverIdeal)} | ${p.polling === undefined ? "—" : `${f(p.polling.t99OverIdeal)} (${p.polling.periodMs / 1000} s)`} | ${f(p.hints.liveAttemptsPerClient)} | ${f(p.hints.floorLiveAttemptsPerClient)} | ${f(p.hints.attemptsPerClient)} | ${f(p.plain?.t99OverIdeal)} | ${f(p.plain?.attemptsPerClient)} | ` +
        `${f(p.socketIo?.t99OverIdeal)} | ${f(plainOverSocketIo(p))} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

/** A strip chart: per scenario, T99/ideal of every point (ours with hints, ours without, socket.io-client). */
export function sweepSvg(report: SweepReport): string {
  const scenarios = report.grid.scenarios;
  const width = 960;
  const rowH = 70;
  const left = 130;
  const top = 70;
  const plotW = width - left - 30;
  const height = top + scenarios.length * rowH + 60;
  const maxX = 4;
  const x = (v: number | null) => left + (Math.min(v ?? maxX, maxX) / maxX) * plotW;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">Storm sweep: T99 over the ideal, ${report.points.length} points (never recovered: drawn at ${maxX})</text>`,
    `<text x="${left}" y="42"><tspan fill="#2ca02c">● ours with hints + budget</tspan>   <tspan fill="#1f77b4">● ours without hints</tspan>   <tspan fill="#d62728">● socket.io-client</tspan></text>`,
  ];
  for (let t = 0; t <= maxX; t += 0.5) {
    out.push(
      `<line x1="${x(t)}" y1="${top}" x2="${x(t)}" y2="${top + scenarios.length * rowH}" stroke="#eee"/>`,
      `<text x="${x(t)}" y="${top + scenarios.length * rowH + 16}" text-anchor="middle">${t}</text>`,
    );
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${top + scenarios.length * rowH + 38}" text-anchor="middle">T99 / ideal (1 = a perfect scheduler)</text>`,
  );
  scenarios.forEach((scenario, i) => {
    const y0 = top + i * rowH;
    out.push(`<text x="${left - 8}" y="${y0 + rowH / 2}" text-anchor="end">${scenario}</text>`);
    const ps = report.points.filter((p) => p.scenario === scenario);
    const dots = (get: (p: SweepPoint) => number | null | undefined, dy: number, color: string) => {
      for (const p of ps) {
        const v = get(p);
        if (v === undefined) continue;
        out.push(
          `<circle cx="${x(v).toFixed(1)}" cy="${y0 + dy}" r="3" fill="${color}" fill-opacity="0.5"/>`,
        );
      }
    };
    dots((p) => p.hints.t99OverIdeal, 18, "#2ca02c");
    dots((p) => (p.plain === undefined ? undefined : p.plain.t99OverIdeal), 35, "#1f77b4");
    dots((p) => (p.socketIo === undefined ? undefined : p.socketIo.t99OverIdeal), 52, "#d62728");
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
