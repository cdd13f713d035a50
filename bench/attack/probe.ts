/**
 * Update latency as the other members see it: `probers` real clients each move their layout every 100 ms
 * (the client's default rate), and one observer client times each move from send to the diff that carries
 * it. Samples are kept per phase so a quiet baseline and an attack are compared in the same run.
 */
import { RawPresenceClient } from "./servers.js";

export interface LatencyFigure {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The `q`-quantile (0–1) of sorted values (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function figure(samples: readonly number[]): LatencyFigure {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? Number.NaN,
  };
}

export class LatencyProbe {
  private readonly sentAt = new Map<string, number>();
  private samples: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  private constructor(
    private readonly probers: RawPresenceClient[],
    private readonly observer: RawPresenceClient,
    private readonly space: string,
  ) {
    observer.onMessage((message) => {
      if (message.$presence !== "diff" || !Array.isArray(message.changes)) return;
      const now = performance.now();
      for (const change of message.changes as { id?: string; state?: { layout?: { x?: number } } }[]) {
        const key = `${change.id}:${change.state?.layout?.x}`;
        const at = this.sentAt.get(key);
        if (at === undefined) continue;
        this.sentAt.delete(key);
        this.samples.push(now - at);
      }
    });
  }

  /** Connects the observer and `count` probers to `space` and waits for their sync answers. */
  static async start(server: { kind: "ws" | "socket.io"; url: string }, count: number, space = "office") {
    const observer = await RawPresenceClient.connect(server);
    observer.sync(space, "observer");
    await observer.next((m) => m.$presence === "snapshot" || m.$presence === "catchup", 30_000);
    const probers: RawPresenceClient[] = [];
    for (let i = 0; i < count; i++) {
      const prober = await RawPresenceClient.connect(server);
      prober.sync(space, `prober-${i}`, { layout: { x: 0, y: 0 } });
      await prober.next((m) => m.$presence === "snapshot" || m.$presence === "catchup", 30_000);
      probers.push(prober);
    }
    return new LatencyProbe(probers, observer, space);
  }

  /** Starts moving: each prober every 100 ms, spread over the interval. */
  run(): void {
    const spacing = 100 / this.probers.length;
    let next = 0;
    this.timer = setInterval(() => {
      const prober = this.probers[next % this.probers.length] as RawPresenceClient;
      next++;
      const x = ++this.seq;
      this.sentAt.set(`prober-${(next - 1) % this.probers.length}:${x}`, performance.now());
      prober.update(this.space, { layout: { x, y: 0 } });
    }, spacing);
  }

  /** The samples since the last call; moves still in flight are dropped (they would straddle phases). */
  take(): number[] {
    const out = this.samples;
    this.samples = [];
    this.sentAt.clear();
    return out;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const client of [...this.probers, this.observer]) client.close();
  }
}
