/**
 * Application-level heartbeat: after `intervalMs` of inbound silence, send a ping; if nothing at all arrives
 * within `timeoutMs` after it, the connection is declared dead. Inbound traffic of any kind counts, so a busy
 * connection sends no pings. Inbound time is recorded, not re-armed per message: one timer at a time.
 */
import type { Clock, TimerHandle } from "../env.js";
import type { HeartbeatOptions } from "./options.js";

export class Liveness {
  private timer: TimerHandle | undefined;
  private lastInboundAt = 0;
  private pingSentAt: number | undefined;

  constructor(
    private readonly options: Required<HeartbeatOptions>,
    private readonly clock: Clock,
    private readonly sendPing: (message: unknown) => void,
    private readonly onDead: (silentMs: number) => void,
  ) {}

  start(): void {
    this.stop();
    this.lastInboundAt = this.clock.now();
    this.arm(this.options.intervalMs);
  }

  /** Records inbound traffic. Returns true when the message is the heartbeat's pong (not for the app). */
  inbound(data: unknown): boolean {
    this.lastInboundAt = this.clock.now();
    this.pingSentAt = undefined;
    try {
      return this.options.isPong(data);
    } catch {
      return false;
    }
  }

  /** Pings now (unless a ping is already out) — after a sleep, the connection may be long dead. */
  checkNow(): void {
    if (this.timer === undefined || this.pingSentAt !== undefined) return;
    this.clock.clearTimeout(this.timer);
    this.tick(true);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.pingSentAt = undefined;
  }

  private arm(delayMs: number): void {
    this.timer = this.clock.setTimeout(() => this.tick(), delayMs);
  }

  private tick(force = false): void {
    this.timer = undefined;
    const now = this.clock.now();
    if (this.pingSentAt !== undefined) {
      if (now - this.pingSentAt >= this.options.timeoutMs) {
        this.pingSentAt = undefined;
        this.onDead(now - this.lastInboundAt);
        return;
      }
      this.arm(this.options.timeoutMs - (now - this.pingSentAt));
      return;
    }
    const silent = now - this.lastInboundAt;
    if (silent < this.options.intervalMs && !force) {
      this.arm(this.options.intervalMs - silent);
      return;
    }
    this.pingSentAt = now;
    const { message } = this.options;
    this.sendPing(typeof message === "function" ? (message as () => unknown)() : message);
    // sendPing may have closed the connection (and stopped us); arm only if still running.
    if (this.pingSentAt !== undefined) this.arm(this.options.timeoutMs);
  }
}
