/**
 * chart.svg of a cluster run, by hand (no dependencies): one row per scenario, two panels over the same
 * time axis — the share of clients connected, and the busiest node's admits per second over C_node (the
 * dashed line is a node's physical rate, the headroom). One colour per balancer; solid: the shared schedule,
 * dashed: per-node admission.
 */
import type { ClusterReport } from "./run.js";
import { runKey } from "./run.js";

const WIDTH = 1100;
const PANEL_W = 480;
const PANEL_H = 200;
const LEFT = 60;
const GAP_X = 70;
const TOP = 80;
const ROW = PANEL_H + 70;
const COLORS = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b"];

const xml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function line(points: [number, number][], color: string, dashed: boolean): string {
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  const dash = dashed ? ' stroke-dasharray="6 4"' : "";
  return `<polyline fill="none" stroke="${color}" stroke-width="1.6"${dash} points="${d}"/>`;
}

export function clusterSvg(report: ClusterReport): string {
  const c = report.config;
  const height = TOP + report.scenarios.length * ROW + 20;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${xml(
      `Cluster storm: N = ${c.clients.toLocaleString("en")}, ${c.nodes} nodes × ${c.nodeCapacity}/s (N/C_total = ${report.physicalLimitS} s), headroom ${c.headroom}`,
    )}</text>`,
  ];
  report.balancers.forEach((b, i) => {
    const lx = LEFT + i * 220;
    out.push(
      `<line x1="${lx}" y1="40" x2="${lx + 24}" y2="40" stroke="${COLORS[i % COLORS.length]}" stroke-width="3"/>`,
      `<text x="${lx + 30}" y="44">${xml(b)}</text>`,
    );
  });
  out.push(`<text x="${LEFT}" y="62">solid: shared schedule — dashed: per-node admission</text>`);
  report.scenarios.forEach((scenario, row) => {
    const top = TOP + row * ROW + 20;
    const keys = report.results.filter((r) => r.scenario === scenario.name);
    const seconds = Math.max(10, ...keys.map((r) => report.series[runKey(r)]?.connected.length ?? 0));
    const maxRate = Math.max(
      c.headroom * 1.2,
      ...keys.flatMap((r) => report.series[runKey(r)]?.hottestAdmits ?? []),
    );
    const panels = [
      { left: LEFT, title: `${scenario.name}: share of clients connected`, max: 1 },
      {
        left: LEFT + PANEL_W + GAP_X,
        title: `${scenario.name}: busiest node's admits/s ÷ C_node`,
        max: maxRate,
      },
    ];
    for (const p of panels) {
      out.push(
        `<rect x="${p.left}" y="${top}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#333"/>`,
        `<text x="${p.left}" y="${top - 6}" font-weight="bold">${xml(p.title)}</text>`,
        `<text x="${p.left - 6}" y="${top + 4}" text-anchor="end">${p.max.toFixed(p.max === 1 ? 0 : 1)}</text>`,
        `<text x="${p.left - 6}" y="${top + PANEL_H}" text-anchor="end">0</text>`,
        `<text x="${p.left + PANEL_W}" y="${top + PANEL_H + 14}" text-anchor="end">${seconds} s</text>`,
      );
    }
    const right = panels[1] as (typeof panels)[number];
    const yRate = (v: number) => top + PANEL_H - (v / right.max) * PANEL_H;
    out.push(
      `<line x1="${right.left}" y1="${yRate(c.headroom).toFixed(1)}" x2="${right.left + PANEL_W}" y2="${yRate(c.headroom).toFixed(1)}" stroke="#999" stroke-dasharray="2 3"/>`,
      `<text x="${right.left + PANEL_W - 4}" y="${(yRate(c.headroom) - 4).toFixed(1)}" text-anchor="end" fill="#666">a node's physical rate (headroom ${c.headroom})</text>`,
    );
    for (const r of keys) {
      const s = report.series[runKey(r)];
      if (s === undefined) continue;
      const color = COLORS[report.balancers.indexOf(r.balancer) % COLORS.length] as string;
      const dashed = r.admission !== "shared";
      const x = (left: number, sec: number) => left + (sec / seconds) * PANEL_W;
      const last = s.connected.at(-1) ?? 0;
      const conn: [number, number][] = [];
      for (let t = 0; t <= seconds; t++) {
        const v = (s.connected[t] ?? last) / c.clients;
        conn.push([x(LEFT, t), top + PANEL_H - v * PANEL_H]);
      }
      const rate: [number, number][] = s.hottestAdmits.map((v, t) => [x(right.left, t), yRate(v)]);
      out.push(line(conn, color, dashed), line(rate, color, dashed));
    }
  });
  out.push("</svg>", "");
  return out.join("\n");
}
