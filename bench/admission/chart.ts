/**
 * chart.svg for bench:admission, by hand: one panel per wire form, compliant clients admitted over time —
 * quiet (dashed) and with the attacker (solid) — so "all in within 1.2 × the quiet time" is visible.
 */
import type { AdmissionBenchRow } from "./run.js";

const PANEL_W = 300;
const PANEL_H = 220;
const LEFT = 60;
const TOP = 60;
const GAP = 40;

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function steps(times: number[], x: (ms: number) => number, y: (n: number) => number, endMs: number): string {
  const points: string[] = [`${x(0).toFixed(1)},${y(0).toFixed(1)}`];
  times.forEach((t, i) => {
    points.push(`${x(t).toFixed(1)},${y(i).toFixed(1)}`, `${x(t).toFixed(1)},${y(i + 1).toFixed(1)}`);
  });
  points.push(`${x(endMs).toFixed(1)},${y(times.length).toFixed(1)}`);
  return points.join(" ");
}

export function toSvg(rows: AdmissionBenchRow[], title: string): string {
  const width = LEFT + rows.length * (PANEL_W + GAP);
  const height = TOP + PANEL_H + 70;
  const endMs = Math.max(1, ...rows.flatMap((row) => [row.quiet.lastMs * 1.2, row.attacked.lastMs])) * 1.1;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${xml(title)}</text>`,
    `<text x="${LEFT}" y="42" fill="#555">compliant clients admitted over time — dashed: quiet, solid: with the attacker</text>`,
  ];
  rows.forEach((row, i) => {
    const left = LEFT + i * (PANEL_W + GAP);
    const n = row.quiet.admittedAtMs.length;
    const x = (ms: number) => left + (ms / endMs) * PANEL_W;
    const y = (count: number) => TOP + PANEL_H - (count / n) * PANEL_H;
    out.push(
      `<rect x="${left}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#ccc"/>`,
      `<text x="${left}" y="${TOP + PANEL_H + 40}" font-weight="bold">${xml(`${row.mode}: ratio ${row.ratio.toFixed(2)}`)}</text>`,
      `<text x="${left}" y="${TOP + PANEL_H + 16}" fill="#555">0 s</text>`,
      `<text x="${left + PANEL_W}" y="${TOP + PANEL_H + 16}" text-anchor="end" fill="#555">${(endMs / 1000).toFixed(1)} s</text>`,
      `<text x="${left - 6}" y="${TOP + 10}" text-anchor="end" fill="#555">${n}</text>`,
      `<line x1="${x(row.quiet.lastMs * 1.2)}" x2="${x(row.quiet.lastMs * 1.2)}" y1="${TOP}" y2="${TOP + PANEL_H}" stroke="#d62728" stroke-dasharray="2,3"/>`,
      `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" stroke-dasharray="5,4" points="${steps(row.quiet.admittedAtMs, x, y, endMs)}"/>`,
      `<polyline fill="none" stroke="#2ca02c" stroke-width="2" points="${steps(row.attacked.admittedAtMs, x, y, endMs)}"/>`,
    );
  });
  out.push(
    `<text x="${LEFT}" y="${height - 8}" fill="#d62728">red dotted line: 1.2 × the quiet time</text>`,
    "</svg>",
  );
  return `${out.join("\n")}\n`;
}
