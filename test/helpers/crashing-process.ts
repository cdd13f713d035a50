/**
 * A server process that applies messages through the `Deduplicator` and crashes right after the
 * `crashAfter`-th took effect, before acknowledging it — for the "killed mid-send" fault over any transport.
 * The store outlives the process, like a database would; each process gets a new `Deduplicator`.
 */
import { Deduplicator, memoryDedupeStore } from "../../src/server/index.js";

export class CrashingProcess {
  /** Messages that took effect, in order. */
  readonly applied: unknown[] = [];
  /** Messages that came again and were acknowledged without taking effect. */
  duplicates = 0;
  /** Crashes so far. */
  generation = 0;
  private readonly store = memoryDedupeStore();
  private dedupe = new Deduplicator({ store: this.store });

  /** `restart` stops the server (dropping every connection) and starts it again. */
  constructor(
    private readonly crashAfter: number,
    private readonly restart: () => Promise<void>,
  ) {}

  /** One connection's message handler; `ack` sends the acknowledgement on that connection. */
  connection(ack: (message: unknown) => void): (payload: unknown) => Promise<void> {
    const born = this.generation;
    const inbox = this.dedupe.connection();
    return async (payload) => {
      // A dead process handles nothing more, even what its socket had already read.
      if (born !== this.generation) return;
      const result = await inbox.receive(payload, (data) => {
        // Work still queued in the crashed process commits nothing.
        if (born !== this.generation) throw new Error("the process is gone");
        this.applied.push(data);
      });
      if (result.status === "duplicate") this.duplicates++;
      if (born !== this.generation) return;
      if (this.applied.length === this.crashAfter && this.generation === 0) {
        // Crash right after this one took effect, before acknowledging it.
        this.generation++;
        this.dedupe = new Deduplicator({ store: this.store });
        await this.restart();
        return;
      }
      if ("ack" in result) ack(result.ack);
    };
  }
}
