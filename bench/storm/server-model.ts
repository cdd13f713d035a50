/**
 * The server of the storm simulation: physics (how much work it can do) under policy (whom it admits).
 *
 * Physics, the same for every strategy: the server does C units of work per second (a token bucket refilled
 * at C/s holding ½ s of work). An admitted login costs 1 unit, a refusal r units (default 0.25), so refusals
 * eat the capacity admits need: with refusals arriving at ρ/s only C − r·ρ admits/s remain, and none at
 * ρ ≥ C/r — the retry storm then sustains itself (a metastable failure). Work the server is behind on queues
 * (the bucket goes negative, a debt admits must wait out) up to one second of work (`BACKLOG_S`, the accept
 * backlog); past that the kernel drops the attempt at no cost to the process. Every attempt counts as
 * offered load. Offered load (admits + r × refusals over the last second, checked every
 * 100 ms) above `crashFactor × capacity` for `crashAfterMs` in a row crashes the server: everyone connected
 * is dropped and nothing is accepted for `restartMs`. The threshold follows the current capacity (a
 * browned-out server has a tenth of its headroom too). Each login costs `fanout` downstream API calls
 * (the incident's ~20): counted, not fed back.
 *
 * Policy: a server that speaks hints runs the library's own {@link AdmissionController} (rate = the current
 * capacity) in front of that: its refusals carry the controller's appointment; a client it would admit but
 * the physics cannot take is refused without a hint. A server without hints admits whatever the physics
 * allows and refuses the rest with nothing in it (an HTTP 503 its client cannot read).
 *
 * While down, an attempt fails fast (`downFailure: "refused"` — the host or its load balancer answers with a
 * reset or a 503 one round trip later: a crashed process) or hangs until the client's own connect timeout
 * (`"timeout"` — the host is gone and SYNs go unanswered). Neither costs the server anything.
 */
import type { HintPayload } from "../../src/policy/hints.js";
import {
  AdmissionController,
  type AdmissionDecision,
  type AdmissionOptions,
  type AdmissionState,
} from "../../src/server/admission.js";

export interface ServerParams {
  /** C: units of work per second at full capacity (an admit costs 1). */
  readonly capacity: number;
  /** r: what a refusal costs, as a share of an admit. */
  readonly refusalCost: number;
  /** The server crashes when its offered load per second exceeds this many times its current capacity… */
  readonly crashFactor: number;
  /** …continuously for this long (ms). */
  readonly crashAfterMs: number;
}

/** What the server answers one attempt. */
export const ADMIT = 0;
export const REFUSE = 1;
export const DOWN = 2;
export type Answer = typeof ADMIT | typeof REFUSE | typeof DOWN;

/** Length of one load bucket (ms); the crash check and the attempt counts use the same resolution. */
export const BUCKET_MS = 100;
const WINDOW_BUCKETS = 1000 / BUCKET_MS;
/** Seconds of work the server queues before attempts are dropped at no cost. */
export const BACKLOG_S = 1;

/** What the simulation needs of an admission controller. */
export interface AdmissionPolicy {
  decide(nowMs: number): AdmissionDecision;
  snapshot(): AdmissionState;
}

/**
 * How the hint server builds its admission controller: by default the library's own, with its default
 * options. Experiments may pass other options, or a changed controller to measure a proposed change.
 */
export interface AdmissionSetup {
  readonly options?: Omit<AdmissionOptions, "ratePerSecond">;
  readonly create?: (options: AdmissionOptions, nowMs: number, state?: AdmissionState) => AdmissionPolicy;
}

const libraryController = (options: AdmissionOptions, nowMs: number, state?: AdmissionState) =>
  new AdmissionController(options, nowMs, state);

export class ServerModel {
  readonly params: ServerParams;
  readonly hints: boolean;
  up = true;
  capacity: number;
  crashes = 0;
  admits = 0;
  refusals = 0;
  /** Refusals by a hint server that carried no appointment (the physics said no where the policy said yes). */
  plainRefusals = 0;
  /** The appointment of the last refusal (when the server speaks hints and gave one). */
  lastHint: HintPayload | undefined;
  private admission: AdmissionPolicy;
  private readonly createAdmission: (rate: number, nowMs: number, state?: AdmissionState) => AdmissionPolicy;
  private work: number;
  private workUpdatedAt = 0;
  private readonly load: Float64Array;
  private windowLoad = 0;
  private lastTickBucket = 0;
  private overloadedFor = 0;

  constructor(params: ServerParams, hints: boolean, horizonMs: number, admission: AdmissionSetup = {}) {
    this.params = params;
    this.hints = hints;
    const create = admission.create ?? libraryController;
    this.createAdmission = (rate, nowMs, state) =>
      create({ ...admission.options, ratePerSecond: rate }, nowMs, state);
    this.capacity = params.capacity;
    this.admission = this.createAdmission(params.capacity, 0);
    this.work = this.workBurst;
    this.load = new Float64Array(Math.ceil(horizonMs / BUCKET_MS) + WINDOW_BUCKETS + 2);
  }

  /** Half a second of work, like the admission controller's default burst. */
  private get workBurst(): number {
    return Math.max(1, this.capacity / 2);
  }

  private refill(nowMs: number): void {
    this.work = Math.min(
      this.workBurst,
      this.work + (Math.max(0, nowMs - this.workUpdatedAt) * this.capacity) / 1000,
    );
    this.workUpdatedAt = Math.max(this.workUpdatedAt, nowMs);
  }

  /** Units of work available now (an admit takes 1; negative: a debt); -Infinity while down. */
  workAvailable(nowMs: number): number {
    if (!this.up) return Number.NEGATIVE_INFINITY;
    this.refill(nowMs);
    return this.work;
  }

  arrive(nowMs: number): Answer {
    if (!this.up) return DOWN;
    this.refill(nowMs);
    const bucket = Math.floor(nowMs / BUCKET_MS);
    let hint: HintPayload | undefined;
    let admit = this.work >= 1;
    if (this.hints) {
      const decision = this.admission.decide(nowMs);
      if (!decision.admit) hint = decision.hint;
      admit &&= decision.admit;
    }
    if (admit) {
      this.work -= 1;
      this.admits++;
      this.load[bucket] = (this.load[bucket] as number) + 1;
      return ADMIT;
    }
    const cost = this.params.refusalCost;
    this.work = Math.max(-BACKLOG_S * this.capacity, this.work - cost);
    this.refusals++;
    this.load[bucket] = (this.load[bucket] as number) + cost;
    this.lastHint = hint;
    if (this.hints && hint === undefined) this.plainRefusals++;
    return REFUSE;
  }

  /** A new capacity (brownout and back); the admission controller keeps its tokens and its book. */
  setCapacity(nowMs: number, capacity: number): void {
    this.capacity = capacity;
    this.work = Math.min(this.work, this.workBurst);
    this.admission = this.createAdmission(capacity, nowMs, this.admission.snapshot());
  }

  /** Stops accepting (a crash, an outage, a deploy). */
  goDown(): void {
    this.up = false;
    this.overloadedFor = 0;
  }

  /** Accepts again, as a fresh process: full buckets, no appointments booked. */
  comeUp(nowMs: number): void {
    this.up = true;
    this.overloadedFor = 0;
    this.work = this.workBurst;
    this.workUpdatedAt = nowMs;
    this.admission = this.createAdmission(this.capacity, nowMs);
  }

  /** Offered load over the last second (admits + r × refusals), as of the last {@link tick}. */
  get loadPerSecond(): number {
    return this.windowLoad;
  }

  /**
   * Called every {@link BUCKET_MS} at a bucket boundary: slides the one-second window and says whether the
   * server crashes now (it is then down; the caller drops everyone and schedules the restart).
   */
  tick(nowMs: number): boolean {
    const bucket = Math.floor(nowMs / BUCKET_MS);
    for (let b = this.lastTickBucket; b < bucket; b++) {
      this.windowLoad += this.load[b] as number;
      if (b - WINDOW_BUCKETS >= 0) this.windowLoad -= this.load[b - WINDOW_BUCKETS] as number;
    }
    this.lastTickBucket = bucket;
    if (!this.up) return false;
    if (this.windowLoad > this.params.crashFactor * this.capacity) this.overloadedFor += BUCKET_MS;
    else this.overloadedFor = 0;
    if (this.overloadedFor < this.params.crashAfterMs) return false;
    this.crashes++;
    this.goDown();
    return true;
  }
}
