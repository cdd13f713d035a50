/**
 * The backoff distribution per attempt, measured: for attempts 1..30, `--draws` independent retry chains
 * (default 10^6) of each strategy; reports median, p10, p99 and the share of draws exactly at the cap.
 * Our strategies are the library's own code; the two peers are modelled from their published source.
 *
 *   npm run bench:backoff -- [--draws 1000000] [--seed 1] [--out bench/results/backoff]
 *
 * Writes <out>/results.json and <out>/results.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type BackoffStrategy, DEFAULT_CAP_MS, decorrelatedJitter, seededRandom } from "../src/index.js";

const { values } = parseArgs({
  options: {
    draws: { type: "string", default: "1000000" },
    attempts: { type: "string", default: "30" },
    seed: { type: "string", default: "1" },
    out: { type: "string", default: "bench/results/backoff" },
  },
});
const draws = Number(values.draws);
const maxAttempt = Number(values.attempts);
if (!Number.isInteger(draws) || draws < 100)
  throw new RangeError(`--draws must be an integer >= 100; got ${values.draws}`);
if (!Number.isInteger(maxAttempt) || maxAttempt < 1)
  throw new RangeError(`--attempts must be >= 1; got ${values.attempts}`);

/** A delay model: state is the previous delay; `attempt` is 1-based. */
interface Model {
  name: string;
  capMs: number;
  next(attempt: number, previousMs: number, random: () => number): number;
}

const fromStrategy = (strategy: BackoffStrategy, name = strategy.name): Model => ({
  name,
  capMs: strategy.capMs,
  next: (attempt, previousDelayMs, random) => strategy.next({ attempt, previousDelayMs, random: random() }),
});

/**
 * socket.io-client 4.8 defaults: reconnectionDelay 1000, reconnectionDelayMax 5000, randomizationFactor 0.5.
 * Model of `Backoff.prototype.duration` in socket.io-client/build/esm/contrib/backo2.js:
 *   ms = min * factor^attempts; deviation = floor(rand * jitter * ms);
 *   ms = (floor(rand * 10) & 1) == 0 ? ms - deviation : ms + deviation; return min(ms, max) | 0
 */
const socketIoClient: Model = {
  name: "socket.io-client defaults",
  capMs: 5000,
  next(attempt, _previous, random) {
    let ms = 1000 * 2 ** (attempt - 1);
    const rand = random();
    const deviation = Math.floor(rand * 0.5 * ms);
    ms = (Math.floor(rand * 10) & 1) === 0 ? ms - deviation : ms + deviation;
    return Math.min(ms, 5000) | 0;
  },
};

/** AWS "decorrelated jitter" as published: sleep = min(cap, random_between(base, sleep * 3)). */
const awsClamped: Model = {
  name: "AWS decorrelated (clamped)",
  capMs: DEFAULT_CAP_MS,
  next(_attempt, previous, random) {
    const prev = Math.max(previous, 250);
    return Math.min(DEFAULT_CAP_MS, 250 + random() * (prev * 3 - 250));
  },
};

const models: Model[] = [
  fromStrategy(decorrelatedJitter(), "ours: decorrelated jitter (default)"),
  awsClamped,
  socketIoClient,
];

interface Row {
  attempt: number;
  medianMs: number;
  p10Ms: number;
  p99Ms: number;
  meanMs: number;
  shareAtCap: number;
  shareZero: number;
}

function measure(model: Model, seed: number): Row[] {
  const random = seededRandom(seed);
  const samples = Array.from({ length: maxAttempt }, () => new Float64Array(draws));
  for (let c = 0; c < draws; c++) {
    let previous = 0;
    for (let a = 1; a <= maxAttempt; a++) {
      previous = model.next(a, previous, random);
      (samples[a - 1] as Float64Array)[c] = previous;
    }
  }
  return samples.map((column, i) => {
    const sorted = column.sort();
    let atCap = 0;
    let zero = 0;
    let sum = 0;
    for (const v of sorted) {
      if (v === model.capMs) atCap++;
      if (v === 0) zero++;
      sum += v;
    }
    const q = (p: number) => sorted[Math.min(draws - 1, Math.floor(p * draws))] as number;
    return {
      attempt: i + 1,
      medianMs: q(0.5),
      p10Ms: q(0.1),
      p99Ms: q(0.99),
      meanMs: sum / draws,
      shareAtCap: atCap / draws,
      shareZero: zero / draws,
    };
  });
}

/** socket.io-client at attempt 100,000 (its `attempts` counter keeps growing while it is down). */
function socketIoAtHundredThousand(seed: number): { shareZero: number } {
  const random = seededRandom(seed);
  let zero = 0;
  const n = Math.min(draws, 100_000);
  for (let i = 0; i < n; i++) if (socketIoClient.next(100_000, 0, random) === 0) zero++;
  return { shareZero: zero / n };
}

const started = Date.now();
const seed = Number(values.seed);
const results = models.map((model, i) => ({
  name: model.name,
  capMs: model.capMs,
  rows: measure(model, seed + i),
}));
const oursAt100k = (() => {
  const s = decorrelatedJitter();
  const random = seededRandom(seed);
  let zero = 0;
  let bad = 0;
  for (let i = 0; i < 100_000; i++) {
    const d = s.next({ attempt: 100_000, previousDelayMs: s.capMs, random: random() });
    if (d === 0) zero++;
    if (!Number.isFinite(d)) bad++;
  }
  return { shareZero: zero / 100_000, nonFinite: bad };
})();
const out = {
  draws,
  seed,
  seconds: (Date.now() - started) / 1000,
  strategies: results,
  attempt100k: { ours: oursAt100k, socketIoClient: socketIoAtHundredThousand(seed) },
};

const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
let md = `# Backoff distribution per attempt (${draws.toLocaleString("en")} chains each, seed ${seed})\n\n`;
for (const r of results) {
  md += `## ${r.name} (cap ${fmt(r.capMs)})\n\n| attempt | median | p10 | p99 | at cap |\n|---:|---:|---:|---:|---:|\n`;
  for (const row of r.rows) {
    md += `| ${row.attempt} | ${fmt(row.medianMs)} | ${fmt(row.p10Ms)} | ${fmt(row.p99Ms)} | ${pct(row.shareAtCap)} |\n`;
  }
  md += "\n";
}
md += `At attempt 100,000: ours ${pct(oursAt100k.shareZero)} zero-delay draws, ${oursAt100k.nonFinite} non-finite; `;
md += `socket.io-client ${pct(out.attempt100k.socketIoClient.shareZero)} zero-delay draws.\n`;
md += `\nLong-run mean delay of ours at the cap (attempt ${maxAttempt}): ${fmt(results[0]?.rows.at(-1)?.meanMs ?? 0)} `;
md += `(${((results[0]?.rows.at(-1)?.meanMs ?? 0) / DEFAULT_CAP_MS).toFixed(3)} × cap).\n`;

mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(out, null, 2)}\n`);
writeFileSync(join(values.out, "results.md"), md);
process.stdout.write(
  `${md}\nwrote ${join(values.out, "results.json")} and results.md in ${out.seconds.toFixed(1)} s\n`,
);
