/** The readable side of `bench:attack`: a markdown table and an SVG chart of quiet vs attack p99. */
import type { Scenario, ScenarioFigures } from "./scenarios.js";

export interface AttackResults {
  readonly command: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly scenarios: readonly { readonly scenario: Scenario; readonly figures: ScenarioFigures }[];
}

const ms = (value: number) => value.toFixed(1);

export function toMarkdown(results: AttackResults): string {
  const lines = [
    "# Presence hub under attack",
    "",
    `Command: \`${results.command}\` (real sockets on 127.0.0.1, the hub at its default settings). Quiet`,
    "and attack windows alternate against the same server in the same run (a settling second after each",
    "attack window is discarded); each condition pools its windows.",
    "",
    `Settings: ${Object.entries(results.settings)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(", ")}`,
    "",
    "| attack | goal | measured | met |",
    "|---|---|---|---|",
  ];
  for (const { scenario, figures } of results.scenarios) {
    for (const goal of scenario.goals) {
      lines.push(
        `| ${scenario.id} | ${goal.label} | ${goal.value(figures)} | ${goal.met(figures) ? "yes" : "NO"} |`,
      );
    }
  }
  lines.push(
    "",
    "| attack | phase | samples | p50 ms | p99 ms | max ms | loop delay p99 ms | server CPU % | memory MB |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const { scenario, figures } of results.scenarios) {
    for (const [phase, f] of [
      ["quiet", figures.quiet],
      ["attack", figures.attack],
    ] as const) {
      const l = f.latency;
      lines.push(
        `| ${scenario.id} | ${phase} | ${l.samples} | ${ms(l.p50Ms)} | ${ms(l.p99Ms)} | ${ms(l.maxMs)} | ${ms(f.loopDelayP99Ms)} | ${f.serverCpuPercent.toFixed(0)} | ${(f.memoryBytes / 1_048_576).toFixed(1)} |`,
      );
    }
  }
  lines.push("", "## What each attacker did, and the hub's counters", "");
  for (const { scenario, figures } of results.scenarios) {
    lines.push(
      `- **${scenario.id}** — ${scenario.title}. Attacker: \`${JSON.stringify(figures.attacker)}\`.`,
    );
    const hub = figures.hub;
    lines.push(
      `  Hub: \`${JSON.stringify({ limited: hub.limited, coalesced: hub.coalesced, cut: hub.cut, evicted: hub.evicted, refused: hub.refused })}\`.`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Grouped bars: quiet vs attack p99 latency per scenario. */
export function toSvg(results: AttackResults): string {
  const rows = results.scenarios.map(({ scenario, figures }) => ({
    id: scenario.id,
    quiet: figures.quiet.latency.p99Ms,
    attack: figures.attack.latency.p99Ms,
  }));
  const top = Math.max(1, ...rows.flatMap((r) => [r.quiet, r.attack])) * 1.15;
  const width = 640;
  const height = 320;
  const left = 60;
  const bottom = 260;
  const group = (width - left - 20) / Math.max(1, rows.length);
  const bar = Math.min(60, group / 3);
  const y = (v: number) => bottom - (v / top) * (bottom - 40);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">Others' p99 update latency: quiet vs under attack (ms)</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${width - 10}" y2="${bottom}" stroke="#333"/>`,
  ];
  rows.forEach((row, i) => {
    const x = left + i * group + group / 2 - bar;
    for (const [k, value, colour] of [
      [0, row.quiet, "#8aa"],
      [1, row.attack, "#c55"],
    ] as const) {
      parts.push(
        `<rect x="${x + k * bar}" y="${y(value)}" width="${bar - 4}" height="${bottom - y(value)}" fill="${colour}"/>`,
        `<text x="${x + k * bar + (bar - 4) / 2}" y="${y(value) - 4}" text-anchor="middle">${ms(value)}</text>`,
      );
    }
    parts.push(`<text x="${x + bar}" y="${bottom + 18}" text-anchor="middle">${row.id}</text>`);
  });
  parts.push(
    `<rect x="${left}" y="${height - 30}" width="12" height="12" fill="#8aa"/><text x="${left + 16}" y="${height - 20}">quiet baseline</text>`,
    `<rect x="${left + 130}" y="${height - 30}" width="12" height="12" fill="#c55"/><text x="${left + 146}" y="${height - 20}">under attack</text>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}
