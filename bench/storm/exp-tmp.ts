import { customBackoff, decorrelatedJitter, equalJitter, fullJitter } from "../../src/policy/backoff.js";
import { buildScenario, type ScenarioName, scenarioConfig } from "./scenarios.js";
import { simulate } from "./simulate.js";
import { ours, type Strategy, socketIoClient, socketIoDefaults } from "./strategies.js";

const candidates: Strategy[] = [
  socketIoClient("socketio", "socketio", socketIoDefaults),
  ours("ours", "default", false),
];
const which = process.argv[2] ?? "all";
const add = (s: Strategy) => candidates.push(s);

const family = (id: string, base: number, g: number, w0: number, w1: number, from: number) =>
  add(
    ours(id, id, false, {
      backoff: customBackoff(
        ({ attempt, random }) => {
          const e = Math.min(120_000, base * g ** (attempt - 1));
          const w = attempt < from ? w0 : w1;
          return Math.min(120_000, e * (1 - w + 2 * w * random));
        },
        { minMs: 1, capMs: 120_000, name: id },
      ),
    }),
  );

const hybrid = (id: string, base: number, until: number, lo: number, hi: number) =>
  add(
    ours(id, id, false, {
      backoff: customBackoff(
        ({ attempt, previousDelayMs, random }) => {
          if (attempt <= until) return Math.min(120_000, base * 2 ** (attempt - 1) * (0.5 + random));
          const prev = Math.max(base, previousDelayMs);
          return Math.min(120_000, prev * (lo + (hi - lo) * random));
        },
        { minMs: 1, capMs: 120_000, name: id },
      ),
    }),
  );
hybrid("h3-1-3", 1000, 3, 1, 3);
hybrid("h3-05-3", 1000, 3, 0.5, 3);
hybrid("h4-1-3", 1000, 4, 1, 3);
hybrid("h2-1-3", 1000, 2, 1, 3);
hybrid("h3-1-25", 1000, 3, 1, 2.5);
const scenarios: ScenarioName[] = ["small-storm", "quick-restart", "mass-drop"];
for (const name of scenarios) {
  const scenario = buildScenario(scenarioConfig(name, {}));
  const row: string[] = [];
  for (const s of candidates) {
    if (which !== "all" && !which.split(",").includes(s.id) && s.id !== "socketio") continue;
    const r = simulate(scenario, s, { options: { refusalCost: scenario.config.refusalCost } }).result;
    row.push(`${s.id}: T99 ${r.t99Ratio} att ${r.attemptsPerClient} crash ${r.crashes}`);
  }
  console.log(name, "\n  " + row.join("\n  "));
}
