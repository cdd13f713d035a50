/**
 * The storm scenarios: what happens to the server and its clients, and when. Each scenario is a list of
 * timed actions plus the moment its recovery is measured from (`originMs`: when the server can take clients
 * again). Every number has a default here and a CLI flag.
 */

export const SCENARIO_NAMES = [
  "mass-drop",
  "small-storm",
  "brownout",
  "long-outage",
  "deploy-drain",
  "quick-restart",
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** All inputs of one run (one scenario, every strategy). */
export interface ScenarioConfig {
  readonly scenario: ScenarioName;
  /** N: simulated clients, all connected and stable before t = 0. */
  readonly clients: number;
  /** C: admits per second at full capacity. */
  readonly capacity: number;
  readonly seed: number;
  /** r: cost of a refusal as a share of an admit. */
  readonly refusalCost: number;
  /** F: downstream calls per admitted login. */
  readonly fanout: number;
  /** The run stops here even when not everyone is back (ms). */
  readonly horizonMs: number;
  /** Crash when the offered load per second exceeds this × the current capacity… */
  readonly crashFactor: number;
  /** …for this long (ms). */
  readonly crashAfterMs: number;
  /** A crashed server restarts after this long (ms); in `deploy-drain`, the deploy's restart. */
  readonly restartMs: number;
  /** How attempts to a down server fail: at once (`refused`) or at the client's connect timeout. */
  readonly downFailure: "refused" | "timeout";
  /** Handshake round trip (ms). */
  readonly rttMs: number;
  /** `brownout`: capacity share during the brownout, and its length (ms). */
  readonly brownoutShare: number;
  readonly brownoutMs: number;
  /** `long-outage`, `quick-restart`: how long the server is gone (ms). */
  readonly outageMs: number;
  /** `deploy-drain`: the window the drain schedule spreads the returning clients over (ms). */
  readonly drainWindowMs: number;
}

export type ScenarioAction =
  /** Every open connection ends (a network blip, a load balancer reset); the server stays up. */
  | { readonly atMs: number; readonly kind: "drop-all" }
  /** The server goes away (everyone connected is dropped) until an `up`. */
  | { readonly atMs: number; readonly kind: "down" }
  | { readonly atMs: number; readonly kind: "up" }
  | { readonly atMs: number; readonly kind: "capacity"; readonly capacity: number }
  /** A deploy: every client is closed with its drain appointment (servers with hints), then the server is
   * down until an `up`. */
  | { readonly atMs: number; readonly kind: "drain"; readonly windowMs: number; readonly offsetMs: number };

export interface Scenario {
  readonly config: ScenarioConfig;
  readonly description: string;
  readonly actions: readonly ScenarioAction[];
  /** Recovery times (T50, T99, T100) are measured from here. */
  readonly originMs: number;
  /**
   * What a perfect scheduler needs to admit all N clients from the origin under the scenario's capacity
   * (ms): N / C at constant capacity; in the brownout, the share of C for its length, then full C.
   */
  readonly idealMs: number;
}

/** The ideal of {@link Scenario.idealMs}. */
export function idealMs(config: ScenarioConfig): number {
  const { clients: n, capacity: c } = config;
  if (config.scenario !== "brownout") return (1000 * n) / c;
  const low = c * config.brownoutShare;
  const duringBrownout = (low * config.brownoutMs) / 1000;
  if (duringBrownout >= n) return (1000 * n) / low;
  return config.brownoutMs + (1000 * (n - duringBrownout)) / c;
}

/** Defaults shared by every scenario. */
export const COMMON_DEFAULTS = {
  capacity: 2000,
  seed: 1,
  refusalCost: 0.25,
  fanout: 20,
  crashFactor: 3,
  crashAfterMs: 3000,
  restartMs: 30_000,
  downFailure: "refused",
  rttMs: 100,
  brownoutShare: 0.1,
  brownoutMs: 30_000,
  outageMs: 600_000,
} as const satisfies Partial<ScenarioConfig>;

type Defaults = Partial<Omit<ScenarioConfig, "scenario">> & { clients: number; horizonMs: number };

const PER_SCENARIO: Record<ScenarioName, { description: string; defaults: Defaults }> = {
  "mass-drop": {
    description: "every connection drops at t = 0 (a network blip); the server is back at once",
    defaults: { clients: 100_000, horizonMs: 600_000 },
  },
  "small-storm": {
    description: "the mass drop at a tenth of the population, where socket.io-client copes",
    defaults: { clients: 10_000, horizonMs: 300_000 },
  },
  brownout: {
    description:
      "every connection drops at t = 0 while the server runs at a tenth of its capacity (admission and " +
      "crash threshold) for 30 s; then capacity returns",
    defaults: { clients: 100_000, horizonMs: 600_000 },
  },
  "long-outage": {
    description:
      "the server is gone for 10 min from t = 0 (attempts time out: nothing answers), then back; " +
      "recovery is measured from its return",
    defaults: { clients: 100_000, horizonMs: 1_200_000, downFailure: "timeout" },
  },
  "deploy-drain": {
    description:
      "a deploy at t = 0 closes every client (with its drain appointment where the server speaks hints); " +
      "the new process accepts after the restart; recovery is measured from then",
    defaults: { clients: 100_000, horizonMs: 600_000, restartMs: 5000 },
  },
  "quick-restart": {
    description:
      "the small storm's population loses its server for 3 s (a crash and restart; attempts are refused " +
      "at once), then it is back; recovery is measured from its return",
    defaults: { clients: 10_000, horizonMs: 300_000, outageMs: 3000 },
  },
};

export function isScenarioName(value: string): value is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(value);
}

/** The scenario's defaults under the given overrides (undefined fields keep their default). */
export function scenarioConfig(
  scenario: ScenarioName,
  overrides: Partial<Omit<ScenarioConfig, "scenario">> = {},
): ScenarioConfig {
  const own = PER_SCENARIO[scenario].defaults;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const merged = { ...COMMON_DEFAULTS, drainWindowMs: 0, ...own, ...defined, scenario };
  // The drain spreads clients over the physical limit N / C unless told otherwise.
  const drainWindowMs =
    defined.drainWindowMs === undefined
      ? Math.ceil((1000 * merged.clients) / merged.capacity)
      : (defined.drainWindowMs as number);
  return { ...merged, drainWindowMs };
}

export function buildScenario(config: ScenarioConfig): Scenario {
  return { ...timeline(config), idealMs: idealMs(config) };
}

function timeline(config: ScenarioConfig): Omit<Scenario, "idealMs"> {
  const { description } = PER_SCENARIO[config.scenario];
  switch (config.scenario) {
    case "mass-drop":
    case "small-storm":
      return { config, description, originMs: 0, actions: [{ atMs: 0, kind: "drop-all" }] };
    case "brownout":
      return {
        config,
        description,
        originMs: 0,
        actions: [
          { atMs: 0, kind: "capacity", capacity: config.capacity * config.brownoutShare },
          { atMs: 0, kind: "drop-all" },
          { atMs: config.brownoutMs, kind: "capacity", capacity: config.capacity },
        ],
      };
    case "long-outage":
    case "quick-restart":
      return {
        config,
        description,
        originMs: config.outageMs,
        actions: [
          { atMs: 0, kind: "down" },
          { atMs: config.outageMs, kind: "up" },
        ],
      };
    case "deploy-drain":
      return {
        config,
        description,
        originMs: config.restartMs,
        actions: [
          // The draining process knows when its successor accepts, so appointments start there.
          { atMs: 0, kind: "drain", windowMs: config.drainWindowMs, offsetMs: config.restartMs },
          { atMs: config.restartMs, kind: "up" },
        ],
      };
  }
}
