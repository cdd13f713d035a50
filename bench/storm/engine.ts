/**
 * The event queue of the storm simulation: a binary min-heap on virtual time, ties broken by insertion order
 * (first scheduled, first run), so a run is a pure function of its inputs and seed.
 *
 * Events are three numbers — when (ms), a target (a client index, or a negative id for server/scenario
 * events) and a tag (the caller's kind and generation) — kept in parallel typed arrays: a mass-drop run pushes
 * tens of millions of events, and objects per event would spend the time budget in the garbage collector.
 * Cancellation is the caller's business (a generation number in the tag that no longer matches is skipped).
 *
 * @see https://en.wikipedia.org/wiki/Binary_heap
 * @see https://en.wikipedia.org/wiki/Discrete-event_simulation
 */

export class EventQueue {
  private times: Float64Array;
  private seqs: Float64Array;
  private targets: Int32Array;
  private tags: Int32Array;
  private count = 0;
  private nextSeq = 0;
  /** The event {@link EventQueue.pop} took last. */
  at = 0;
  target = 0;
  tag = 0;

  constructor(initialCapacity = 1024) {
    const n = Math.max(16, initialCapacity);
    this.times = new Float64Array(n);
    this.seqs = new Float64Array(n);
    this.targets = new Int32Array(n);
    this.tags = new Int32Array(n);
  }

  get size(): number {
    return this.count;
  }

  /** Time of the earliest event, or `Infinity` when empty. */
  peekTime(): number {
    return this.count === 0 ? Number.POSITIVE_INFINITY : (this.times[0] as number);
  }

  push(atMs: number, target: number, tag: number): void {
    if (!Number.isFinite(atMs)) throw new RangeError(`EventQueue.push: atMs must be finite; got ${atMs}`);
    if (this.count === this.times.length) this.grow();
    const seq = this.nextSeq++;
    const { times, seqs, targets, tags } = this;
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent] as number;
      if (pt < atMs || (pt === atMs && (seqs[parent] as number) < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent] as number;
      targets[i] = targets[parent] as number;
      tags[i] = tags[parent] as number;
      i = parent;
    }
    times[i] = atMs;
    seqs[i] = seq;
    targets[i] = target;
    tags[i] = tag;
  }

  /** Removes the earliest event into {@link at}/{@link target}/{@link tag}; false when empty. */
  pop(): boolean {
    if (this.count === 0) return false;
    const { times, seqs, targets, tags } = this;
    this.at = times[0] as number;
    this.target = targets[0] as number;
    this.tag = tags[0] as number;
    const last = --this.count;
    if (last === 0) return true;
    const t = times[last] as number;
    const s = seqs[last] as number;
    const tg = targets[last] as number;
    const tag = tags[last] as number;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= last) break;
      const right = left + 1;
      let child = left;
      if (right < last) {
        const lt = times[left] as number;
        const rt = times[right] as number;
        if (rt < lt || (rt === lt && (seqs[right] as number) < (seqs[left] as number))) child = right;
      }
      const ct = times[child] as number;
      if (t < ct || (t === ct && s < (seqs[child] as number))) break;
      times[i] = ct;
      seqs[i] = seqs[child] as number;
      targets[i] = targets[child] as number;
      tags[i] = tags[child] as number;
      i = child;
    }
    times[i] = t;
    seqs[i] = s;
    targets[i] = tg;
    tags[i] = tag;
    return true;
  }

  private grow(): void {
    const n = this.times.length * 2;
    const times = new Float64Array(n);
    const seqs = new Float64Array(n);
    const targets = new Int32Array(n);
    const tags = new Int32Array(n);
    times.set(this.times);
    seqs.set(this.seqs);
    targets.set(this.targets);
    tags.set(this.tags);
    this.times = times;
    this.seqs = seqs;
    this.targets = targets;
    this.tags = tags;
  }
}
