/**
 * chart.svg, written by hand (no dependencies): two panels over the same time axis — connected clients
 * (linear) and attempts per second (log scale, so a 100,000/s wave and a 500/s trickle are both readable) —
 * one line per strategy. A strategy whose run ended early (everyone back) is drawn flat to the end.
 */
import type { StormReport } from "./run.js";

const WIDTH = 960;
const PANEL = 300;
const LEFT = 80;
const RIGHT = 20;
const TOP = 95;
const GAP = 60;
const COLORS = ["#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#1f77b4", "#2ca02c", "#17becf", "#7f7f7f"];

const xml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** 1, 2 or 5 × 10^k: the smallest step giving at most `maxTicks` ticks over [0, span]. */
function niceStep(span: number, maxTicks: number): number {
  const raw = span / Math.max(1, maxTicks);
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

const fmt = (x: number) =>
  x >= 1e6 ? `${x / 1e6}M` : x >= 1000 ? `${x / 1000}k` : String(Math.round(x * 100) / 100);

function polyline(points: [number, number][], color: string): string {
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  return `<polyline fill="none" stroke="${color}" stroke-width="1.5" stroke-opacity="0.85" points="${d}"/>`;
}

export function toSvg(report: StormReport): string {
  const names = report.strategies.map((s) => s.name);
  const seconds = Math.max(1, ...names.map((name) => report.series[name]?.attemptsPerSecond.length ?? 0));
  const plotW = WIDTH - LEFT - RIGHT;
  const height = TOP + 2 * PANEL + GAP + 50;
  const x = (sec: number) => LEFT + (sec / seconds) * plotW;
  const top1 = TOP;
  const top2 = TOP + PANEL + GAP;
  const yConnected = (v: number) => top1 + PANEL - (v / report.clients) * PANEL;
  const maxRate = Math.max(
    10,
    ...names.flatMap((name) => report.series[name]?.attemptsPerSecond ?? []).filter(Number.isFinite),
  );
  const decades = Math.ceil(Math.log10(maxRate));
  const yRate = (v: number) => top2 + PANEL - (Math.log10(Math.max(1, v)) / decades) * PANEL;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${xml(
      `Storm: ${report.scenario} — N = ${report.clients.toLocaleString("en")}, C = ${report.capacity.toLocaleString("en")}/s (N/C = ${report.physicalLimitS} s), seed ${report.seed}`,
    )}</text>`,
  );
  // Legend.
  names.forEach((name, i) => {
    const lx = LEFT + (i % 3) * 290;
    const ly = 40 + Math.floor(i / 3) * 16;
    const color = COLORS[i % COLORS.length] as string;
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${lx + 28}" y="${ly}">${xml(name)}</text>`,
    );
  });
  // Axes and grid.
  const xStep = niceStep(seconds, 10);
  for (const [top, label] of [
    [top1, "connected clients"],
    [top2, "connection attempts per second (log)"],
  ] as const) {
    out.push(
      `<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL}" fill="none" stroke="#333"/>`,
      `<text x="${LEFT}" y="${top - 6}" font-weight="bold">${label}</text>`,
    );
    for (let s = 0; s <= seconds; s += xStep) {
      out.push(
        `<line x1="${x(s).toFixed(1)}" y1="${top}" x2="${x(s).toFixed(1)}" y2="${top + PANEL}" stroke="#ddd"/>`,
        `<text x="${x(s).toFixed(1)}" y="${top + PANEL + 14}" text-anchor="middle">${s}</text>`,
      );
    }
  }
  out.push(`<text x="${LEFT + plotW / 2}" y="${height - 10}" text-anchor="middle">seconds</text>`);
  const cStep = niceStep(report.clients, 5);
  for (let v = 0; v <= report.clients; v += cStep) {
    const y = yConnected(v).toFixed(1);
    out.push(
      `<line x1="${LEFT}" y1="${y}" x2="${LEFT + plotW}" y2="${y}" stroke="#eee"/>`,
      `<text x="${LEFT - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`,
    );
  }
  for (let d = 0; d <= decades; d++) {
    const y = yRate(10 ** d).toFixed(1);
    out.push(
      `<line x1="${LEFT}" y1="${y}" x2="${LEFT + plotW}" y2="${y}" stroke="#eee"/>`,
      `<text x="${LEFT - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(10 ** d)}</text>`,
    );
  }
  // One line per strategy in each panel.
  names.forEach((name, i) => {
    const series = report.series[name];
    if (series === undefined) return;
    const color = COLORS[i % COLORS.length] as string;
    const last = series.connected.at(-1) ?? 0;
    const connected: [number, number][] = [];
    const rate: [number, number][] = [];
    // connected[s] is a sample at second s; attemptsPerSecond[s] counts [s, s + 1).
    for (let s = 0; s <= seconds; s++) connected.push([x(s), yConnected(series.connected[s] ?? last)]);
    for (let s = 0; s < seconds; s++) rate.push([x(s + 0.5), yRate(series.attemptsPerSecond[s] ?? 0)]);
    out.push(polyline(connected, color), polyline(rate, color));
  });
  out.push("</svg>", "");
  return out.join("\n");
}
