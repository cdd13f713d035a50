/**
 * The figures of a storm run, from what the simulation tallied: recovery times as multiples of the physical
 * limit N / C, attempts per client, burstiness, downstream calls, crashes.
 */
import type { RunFloor } from "./floor.js";
import { BUCKET_MS } from "./server-model.js";

/** The figures of one strategy in one scenario (see {@link summarise} for the definitions). */
export interface StrategyResult {
  readonly name: string;
  readonly id: string;
  readonly recovered: boolean;
  readonly t50Ratio: number | null;
  readonly t95Ratio: number | null;
  readonly t99Ratio: number | null;
  readonly t100Ratio: number | null;
  readonly attemptsPerClient: number;
  /** Attempts that reached a live server (admitted or refused by it) / N; a dead port's refusals excluded. */
  readonly liveAttemptsPerClient: number;
  /** T99 over the scenario's ideal (what a perfect scheduler needs from the origin); null when never. */
  readonly t99OverIdeal: number | null;
  /**
   * The run's floor (`./floor.ts`): T99 over the ideal of the best scheme whose first wave is this run's and
   * which then knows the scenario; null when even it never reaches 99 %.
   */
  readonly floorT99OverIdeal: number | null;
  /** The same scheme's live attempts per client: what this run's first wave makes unavoidable. */
  readonly floorLiveAttemptsPerClient: number;
  readonly peakAttemptsPer100ms: number;
  readonly peakToMean: number;
  readonly downstreamCalls: number;
  readonly crashes: number;
  /** Share of clients connected when the run ended. */
  readonly connectedAtEnd: number;
  /** When the run ended (ms): everyone back and nothing left to happen, or the horizon. */
  readonly endMs: number;
}

/** Per-second samples for the chart. */
export interface StrategySeries {
  readonly connected: number[];
  readonly attemptsPerSecond: number[];
  /** The server's offered load over the second before each sample (admits + r × refusals). */
  readonly offeredLoad: number[];
}

export function perSecond(buckets: Float64Array, endMs: number): number[] {
  const seconds = Math.ceil(endMs / 1000);
  const out: number[] = [];
  const per = 1000 / BUCKET_MS;
  for (let s = 0; s < seconds; s++) {
    let sum = 0;
    for (let b = s * per; b < (s + 1) * per && b < buckets.length; b++) sum += buckets[b] as number;
    out.push(sum);
  }
  return out;
}

export interface Tally {
  name: string;
  id: string;
  n: number;
  capacity: number;
  originMs: number;
  endMs: number;
  reachedAt: (number | undefined)[];
  attempts: number;
  liveAttempts: number;
  /** What a perfect scheduler needs to admit all N from the origin under the scenario's capacity (ms). */
  idealMs: number;
  attemptsPerBucket: Float64Array;
  downstreamCalls: number;
  crashes: number;
  connected: number;
  /** The floor computed from this run's first wave. */
  floor: RunFloor;
}

/**
 * - `tXRatio`: (first moment at least X % of the clients are connected − the scenario's origin) / (N / C);
 *   null when it never happened;
 * - `recovered`: everyone connected before the horizon;
 * - `attemptsPerClient`: every connection attempt of the run / N; `liveAttemptsPerClient` only those that
 *   reached a live server;
 * - `t99OverIdeal`: (T99 − origin) / the scenario's ideal (N / C at constant capacity);
 * - `peakAttemptsPer100ms` and `peakToMean`: the busiest 100 ms of attempts, and its ratio to the mean per
 *   100 ms from t = 0 to the end of the run.
 */
export function summarise(t: Tally): StrategyResult {
  const physicalMs = (1000 * t.n) / t.capacity;
  const ratio = (at: number | undefined) => (at === undefined ? null : round((at - t.originMs) / physicalMs));
  const buckets = Math.max(1, Math.ceil(t.endMs / BUCKET_MS));
  let peak = 0;
  for (let b = 0; b < buckets && b < t.attemptsPerBucket.length; b++)
    peak = Math.max(peak, t.attemptsPerBucket[b] as number);
  const mean = t.attempts / buckets;
  const [t50, t95, t99, t100] = t.reachedAt;
  return {
    name: t.name,
    id: t.id,
    recovered: t100 !== undefined,
    t50Ratio: ratio(t50),
    t95Ratio: ratio(t95),
    t99Ratio: ratio(t99),
    t100Ratio: ratio(t100),
    attemptsPerClient: round(t.attempts / t.n),
    liveAttemptsPerClient: round(t.liveAttempts / t.n),
    t99OverIdeal: t99 === undefined ? null : round((t99 - t.originMs) / t.idealMs),
    floorT99OverIdeal: t.floor.t99OverIdeal,
    floorLiveAttemptsPerClient: t.floor.liveAttemptsPerClient,
    peakAttemptsPer100ms: peak,
    peakToMean: mean === 0 ? 0 : round(peak / mean),
    downstreamCalls: t.downstreamCalls,
    crashes: t.crashes,
    connectedAtEnd: round(t.connected / t.n),
    endMs: t.endMs,
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
