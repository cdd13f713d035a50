/**
 * `npm run bench:admission`: is admission fair to the compliant? For each wire form (ws refusing with close
 * 1013, ws refusing with HTTP 503, Socket.IO), `clients` compliant ResilientSockets start together against
 * a server admitting `rate`/s — once alone (the quiet time) and once while one client ignoring every hint
 * opens `attack` connections a second (started `lead` ms before them). The figure is the ratio of the two
 * times to the last compliant admission, measured side by side in one run with the same random draws.
 *
 *   npm run bench:admission -- [--clients 20] [--rate 20] [--attack 150] [--lead-ms 1000] [--seed 1]
 *     [--out bench/results/admission]
 *
 * Writes <out>/results.json, results.md and chart.svg. A bad flag exits with status 2 naming it.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { toSvg } from "./chart.js";
import { type AdmissionRunResult, MODES, runAdmission } from "./harness.js";

export interface AdmissionBenchRow {
  readonly mode: string;
  readonly quiet: AdmissionRunResult;
  readonly attacked: AdmissionRunResult;
  /** attacked.lastMs / quiet.lastMs */
  readonly ratio: number;
}

const FLAGS = {
  clients: { type: "string", default: "20" },
  rate: { type: "string", default: "20" },
  attack: { type: "string", default: "150" },
  "lead-ms": { type: "string", default: "1000" },
  seed: { type: "string", default: "1" },
  out: { type: "string", default: "bench/results/admission" },
} as const;

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (name !== "lead-ms" && value === 0)) {
    console.error(
      `bench:admission: --${name} must be a ${name === "lead-ms" ? "number >= 0" : "number > 0"}; got ${text}`,
    );
    process.exit(2);
  }
  return value;
}

const round = (x: number) => Math.round(x);

function toMarkdown(rows: AdmissionBenchRow[], args: Record<string, string>): string {
  const lines = [
    `# Admission fair to the compliant — ${args.clients} compliant clients, ${args.rate}/s, one client ignoring hints at ${args.attack} attempts/s`,
    "",
    `The attacker starts ${args["lead-ms"]} ms before the compliant clients; times are from their start to the last one admitted. The admission key is the client id (on loopback all share one address). Seed ${args.seed}.`,
    "",
    `\`npm run bench:admission -- --clients ${args.clients} --rate ${args.rate} --attack ${args.attack} --lead-ms ${args["lead-ms"]} --seed ${args.seed}\``,
    "",
    "| transport / refusal | quiet time | with attacker | ratio | attempts/client quiet → attacked | attacker attempts | attacker admitted | refusals at no shared cost |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      ({ mode, quiet, attacked, ratio }) =>
        `| ${mode} | ${round(quiet.lastMs)} ms | ${round(attacked.lastMs)} ms | **${ratio.toFixed(2)}** | ${quiet.attemptsPerClient.toFixed(2)} → ${attacked.attemptsPerClient.toFixed(2)} | ${attacked.attackerAttempts} | ${attacked.attackerAdmitted} | ${attacked.refusedByKey} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: FLAGS, strict: true });
  const clients = positive("clients", values.clients);
  const ratePerSecond = positive("rate", values.rate);
  const attackPerSecond = positive("attack", values.attack);
  const attackLeadMs = positive("lead-ms", values["lead-ms"]);
  const seed = positive("seed", values.seed);
  const timeoutMs = 30_000 + (clients / ratePerSecond) * 10_000;
  const rows: AdmissionBenchRow[] = [];
  for (const mode of MODES) {
    const common = { mode, clients, ratePerSecond, attackLeadMs, seed, timeoutMs };
    const quiet = await runAdmission({ ...common, attackPerSecond: 0 });
    const attacked = await runAdmission({ ...common, attackPerSecond });
    rows.push({ mode, quiet, attacked, ratio: attacked.lastMs / quiet.lastMs });
    console.log(
      `${mode}: quiet ${round(quiet.lastMs)} ms, with attacker ${round(attacked.lastMs)} ms, ratio ${(attacked.lastMs / quiet.lastMs).toFixed(2)}`,
    );
  }
  const out = values.out;
  mkdirSync(out, { recursive: true });
  const args = { ...values } as Record<string, string>;
  writeFileSync(join(out, "results.json"), `${JSON.stringify({ args, rows }, null, 2)}\n`);
  const markdown = toMarkdown(rows, args);
  writeFileSync(join(out, "results.md"), markdown);
  writeFileSync(join(out, "chart.svg"), toSvg(rows, markdown.split("\n")[0]?.slice(2) ?? ""));
  console.log(`\n${markdown}\nwrote ${out}/results.json, results.md and chart.svg`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
