/**
 * The attacks `bench:attack` runs, one entry each: which attacker process to start and which goals its
 * figures are held to. Add an entry to measure a new attack (the admission figure of issue 10 belongs here
 * too); the runner gives every scenario the same quiet baseline and attack phase in one run.
 */

/** What one phase measured on the server. */
export interface PhaseFigures {
  readonly latency: {
    readonly samples: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
  };
  /** Event-loop delay p99 over the phase (ms). */
  readonly loopDelayP99Ms: number;
  /** CPU time the server process used over the phase, as a percentage of one core. */
  readonly serverCpuPercent: number;
  /** Heap + external bytes after a full GC at the end of the phase. */
  readonly memoryBytes: number;
}

export interface ScenarioFigures {
  readonly quiet: PhaseFigures;
  readonly attack: PhaseFigures;
  /** Others' p99 update latency under attack / in the quiet baseline. */
  readonly p99Ratio: number;
  /** Most bytes the server held unsent for the attacker's sockets at any sample. */
  readonly heldForAttackerBytes: number;
  /** Memory after the attack minus memory after the quiet phase (both after a full GC). */
  readonly memoryDeltaBytes: number;
  /** Most seats and spaces in the hub at any sample. */
  readonly maxSeats: number;
  readonly maxSpaces: number;
  /** The hub's counters at the end. */
  readonly hub: Readonly<Record<string, unknown>>;
  /** What the attacker process reports it did. */
  readonly attacker: Readonly<Record<string, unknown>>;
}

export interface Goal {
  readonly label: string;
  readonly met: (figures: ScenarioFigures) => boolean;
  readonly value: (figures: ScenarioFigures) => string;
}

export interface Scenario {
  readonly id: string;
  readonly title: string;
  /** The attacker process's mode and rate (see attacker.ts). */
  readonly attack: { readonly mode: string; readonly rate?: number };
  readonly goals: readonly Goal[];
}

const MB = 1_024 * 1_024;
const mb = (bytes: number) => `${(bytes / MB).toFixed(2)} MB`;
const ratio: Goal = {
  label: "others' p99 update latency <= 2x quiet",
  met: (f) => f.p99Ratio <= 2,
  value: (f) =>
    `${f.p99Ratio.toFixed(2)}x (${f.attack.latency.p99Ms.toFixed(1)} vs ${f.quiet.latency.p99Ms.toFixed(1)} ms)`,
};

export const SCENARIOS: readonly Scenario[] = [
  {
    id: "sync-flood",
    title:
      "Hostile sync flood: stops reading, repeats sync with an old revision (45/s, under the rate limit)",
    attack: { mode: "sync-flood", rate: 45 },
    goals: [
      {
        label: "server memory held for the attacker <= 1 MB",
        met: (f) => f.heldForAttackerBytes <= MB,
        value: (f) => `${mb(f.heldForAttackerBytes)} unsent (heap delta ${mb(f.memoryDeltaBytes)})`,
      },
      ratio,
    ],
  },
  {
    id: "sync-burst",
    title: "Sync burst: stops reading, repeats sync with an old revision at 20,000/s (reconnecting when cut)",
    attack: { mode: "sync-flood", rate: 20_000 },
    goals: [
      {
        label: "server memory held for the attacker <= 1 MB",
        met: (f) => f.heldForAttackerBytes <= MB,
        value: (f) => `${mb(f.heldForAttackerBytes)} unsent (heap delta ${mb(f.memoryDeltaBytes)})`,
      },
      ratio,
    ],
  },
  {
    id: "update-flood",
    title: "Update flood: one member sending 100,000 updates/s (reconnecting when cut)",
    attack: { mode: "update-flood", rate: 100_000 },
    goals: [ratio],
  },
  {
    id: "grace-churn",
    title: "Grace-period churn: connect, sync 16 new spaces, drop, repeat",
    attack: { mode: "churn" },
    goals: [
      {
        label: "seats <= maxSeats (20,000), memory bounded",
        met: (f) => f.maxSeats <= 20_000,
        value: (f) =>
          `${f.maxSeats} seats, ${f.maxSpaces} spaces at most; heap delta ${mb(f.memoryDeltaBytes)}`,
      },
    ],
  },
];
