/**
 * chart.svg of the live storm, by hand (no dependencies): a title, two panels over one time axis with ticks
 * — connected clients, and the attempts per second the restarted server saw with its capacity C drawn as a
 * line — and a caption saying what N/C is.
 */

/** What the chart needs of one kind's run. */
export interface LiveSeries {
  readonly name: string;
  readonly recovered: boolean;
  readonly timeToAllConnectedMs: number | null;
  readonly attemptsSeen: number;
  /** [ms since the restart, connected clients] */
  readonly samples: readonly (readonly [number, number])[];
  /** Attempts the restarted server saw in each second since it started. */
  readonly attemptsPerSecond: readonly number[];
}

export interface LiveChartInput {
  readonly title: string;
  readonly clients: number;
  readonly capacity: number;
  readonly series: readonly LiveSeries[];
  /** Caption lines under the chart. Default: the restart storm's (bench:live). */
  readonly caption?: readonly string[];
  /** Label of the time axis. Default: "seconds since the server restarted". */
  readonly timeAxis?: string;
}

const COLORS = ["#d62728", "#2ca02c", "#1f77b4"];

/** 1, 2 or 5 × 10^k: the smallest step giving at most `maxTicks` ticks over [0, span]. */
function niceStep(span: number, maxTicks: number): number {
  const raw = span / Math.max(1, maxTicks);
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function liveChart({
  title,
  clients,
  capacity,
  series,
  caption: captionLines,
  timeAxis = "seconds since the server restarted",
}: LiveChartInput): string {
  const W = 960;
  const L = 80;
  const R = 20;
  const legendTop = 50;
  const top1 = legendTop + 18 * series.length + 20;
  const panel = 240;
  const gap = 60;
  const top2 = top1 + panel + gap;
  const bottom = top2 + panel;
  const H = bottom + 95;
  const ncS = clients / capacity;
  const maxS = Math.max(
    ncS * 1.1,
    ...series.map((s) => Math.max(s.attemptsPerSecond.length, ...s.samples.map(([t]) => t / 1000))),
  );
  const x = (sec: number) => L + ((W - L - R) * sec) / maxS;
  const yConn = (n: number) => top1 + panel - (panel * n) / clients;
  const maxRate = Math.max(capacity * 1.2, ...series.flatMap((s) => s.attemptsPerSecond));
  const yRate = (v: number) => top2 + panel - (panel * v) / maxRate;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${L}" y="26" font-size="16" font-weight="bold">${xml(title)}</text>`,
  ];
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const label = s.recovered
      ? `all back after ${((s.timeToAllConnectedMs ?? 0) / 1000).toFixed(1)} s, ${s.attemptsSeen.toLocaleString("en")} attempts`
      : `not all back, ${s.attemptsSeen.toLocaleString("en")} attempts`;
    const y = legendTop + 18 * i;
    out.push(
      `<line x1="${L}" y1="${y}" x2="${L + 24}" y2="${y}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${L + 30}" y="${y + 4}">${xml(`${s.name}: ${label}`)}</text>`,
    );
  });
  // Time ticks on both panels.
  const step = niceStep(maxS, 10);
  for (let t = 0; t <= maxS + 1e-9; t += step) {
    for (const [a, b] of [
      [top1, top1 + panel],
      [top2, top2 + panel],
    ] as const) {
      out.push(`<line x1="${x(t)}" y1="${a}" x2="${x(t)}" y2="${b}" stroke="#eee"/>`);
      out.push(`<text x="${x(t)}" y="${b + 15}" text-anchor="middle">${Math.round(t)}</text>`);
    }
  }
  // Connected panel: ticks every quarter of N.
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const at = yConn(f * clients);
    out.push(
      `<line x1="${L - 4}" y1="${at}" x2="${W - R}" y2="${at}" stroke="#eee"/>`,
      `<text x="${L - 8}" y="${at + 4}" text-anchor="end">${Math.round(f * clients).toLocaleString("en")}</text>`,
    );
  }
  const rateStep = niceStep(maxRate, 5);
  for (let v = 0; v <= maxRate; v += rateStep) {
    out.push(
      `<line x1="${L - 4}" y1="${yRate(v)}" x2="${W - R}" y2="${yRate(v)}" stroke="#eee"/>`,
      `<text x="${L - 8}" y="${yRate(v) + 4}" text-anchor="end">${v.toLocaleString("en")}</text>`,
    );
  }
  for (const [a, b, label] of [
    [top1, top1 + panel, "connected clients"],
    [top2, top2 + panel, "attempts per second"],
  ] as const) {
    out.push(
      `<line x1="${L}" y1="${b}" x2="${W - R}" y2="${b}" stroke="#333"/>`,
      `<line x1="${L}" y1="${a}" x2="${L}" y2="${b}" stroke="#333"/>`,
      `<text x="18" y="${(a + b) / 2}" transform="rotate(-90 18 ${(a + b) / 2})" text-anchor="middle">${label}</text>`,
      `<text x="${(L + W - R) / 2}" y="${b + 32}" text-anchor="middle">${xml(timeAxis)}</text>`,
    );
  }
  // N/C on the time axis, C on the rate axis.
  out.push(
    `<line x1="${x(ncS)}" y1="${top1}" x2="${x(ncS)}" y2="${top1 + panel}" stroke="#999" stroke-dasharray="4 4"/>`,
    `<text x="${x(ncS) + 4}" y="${top1 + 14}" fill="#666">N/C = ${ncS.toFixed(ncS < 10 ? 1 : 0)} s</text>`,
    `<line x1="${L}" y1="${yRate(capacity)}" x2="${W - R}" y2="${yRate(capacity)}" stroke="#555" stroke-dasharray="6 3"/>`,
    `<text x="${W - R - 4}" y="${yRate(capacity) - 5}" text-anchor="end" fill="#555">capacity C = ${capacity.toLocaleString("en")} admits/s</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const conn = s.samples.map(([t, n]) => `${x(t / 1000).toFixed(1)},${yConn(n).toFixed(1)}`).join(" ");
    const rate = s.attemptsPerSecond
      .map((v, sec) => `${x(sec + 1).toFixed(1)},${yRate(v).toFixed(1)}`)
      .join(" ");
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${conn}"/>`,
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" stroke-opacity="0.85" points="${rate}"/>`,
    );
  });
  const caption = captionLines ?? [
    `N = ${clients.toLocaleString("en")} real clients lose their server at once (SIGKILL); it restarts and admits C = ${capacity.toLocaleString("en")} new connections a second.`,
    `N/C = ${ncS.toFixed(ncS < 10 ? 1 : 0)} s is the physical limit: the fastest any scheduler could bring everyone back. Attempts above the capacity line are refused work.`,
  ];
  caption.forEach((line, i) => {
    out.push(`<text x="${L}" y="${bottom + 55 + 16 * i}" fill="#333">${xml(line)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
