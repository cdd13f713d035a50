/**
 * Runs one scenario for every chosen strategy and gathers the report the CLI writes and the test checks.
 * Deterministic: the report holds no wall-clock figure, so the same inputs give byte-identical JSON.
 */
import { buildScenario, type ScenarioConfig } from "./scenarios.js";
import { type StrategyResult, type StrategySeries, simulate } from "./simulate.js";
import { pickStrategies } from "./strategies.js";

export interface StormReport {
  readonly scenario: string;
  readonly description: string;
  readonly clients: number;
  readonly capacity: number;
  readonly seed: number;
  /** N / C in seconds: the yardstick every `*Ratio` is divided by. */
  readonly physicalLimitS: number;
  /** Recovery is measured from here (s). */
  readonly originS: number;
  /** What a perfect scheduler needs from the origin (s): N / C, or 1.54 × N / C in the default brownout. */
  readonly idealS: number;
  readonly parameters: ScenarioConfig;
  readonly strategies: StrategyResult[];
  /** Per-second samples by strategy name, for the chart. */
  readonly series: Record<string, StrategySeries>;
}

export function runStorm(
  config: ScenarioConfig,
  strategyIds?: readonly string[],
  onStrategyDone?: (result: StrategyResult, wallMs: number) => void,
): StormReport {
  const scenario = buildScenario(config);
  const strategies = pickStrategies(strategyIds);
  const results: StrategyResult[] = [];
  const series: Record<string, StrategySeries> = {};
  for (const strategy of strategies) {
    const started = performance.now();
    // The admission controller charges refusals what the server model charges them.
    const run = simulate(scenario, strategy, { options: { refusalCost: config.refusalCost } });
    results.push(run.result);
    series[strategy.name] = run.series;
    onStrategyDone?.(run.result, performance.now() - started);
  }
  return {
    scenario: config.scenario,
    description: scenario.description,
    clients: config.clients,
    capacity: config.capacity,
    seed: config.seed,
    physicalLimitS: config.clients / config.capacity,
    originS: scenario.originMs / 1000,
    idealS: scenario.idealMs / 1000,
    parameters: config,
    strategies: results,
    series,
  };
}
