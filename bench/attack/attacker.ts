/**
 * One attacker, run as its own process so its work does not share the server's event loop (a real attacker
 * is another machine). Prints one JSON line of what it did when told to end.
 *
 *   node --import tsx bench/attack/attacker.ts <sync-flood|update-flood|churn> <url> [rate] [ws|socket.io]
 *
 * It prints `ready` once loaded, then obeys lines on stdin: `go` (attack), `stop` (pause, keeping its
 * connections as they are), `end` (report and exit). Its start-up (tsx compiling it) therefore never falls
 * inside an attack window, and the runner can alternate quiet and attack windows with one attacker.
 */
import { encodePresence } from "../../src/internals.js";
import { maskedFrames, RawPresenceClient } from "./servers.js";

const [mode, url, rateText, kindText] = process.argv.slice(2);
if (url === undefined) throw new Error("usage: attacker.ts <mode> <url> [rate] [ws|socket.io]");
const server = { kind: kindText === "socket.io" ? ("socket.io" as const) : ("ws" as const), url };
const control = { active: false, ended: false, activeMs: 0, since: 0 };
let release: () => void = () => {};
const ended = new Promise<void>((resolve) => {
  release = resolve;
});
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  pending += chunk;
  for (let at = pending.indexOf("\n"); at >= 0; at = pending.indexOf("\n")) {
    const line = pending.slice(0, at).trim();
    pending = pending.slice(at + 1);
    if (line === "go" && !control.active) {
      control.active = true;
      control.since = Date.now();
    } else if ((line === "stop" || line === "end") && control.active) {
      control.active = false;
      control.activeMs += Date.now() - control.since;
    }
    if (line === "end") {
      control.ended = true;
      release();
    }
  }
});
// The runner gone: nothing to attack, nobody to report to.
process.stdin.once("end", () => process.exit(0));
process.stdout.write("ready\n");
const rate = Number(rateText ?? "0");
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends owed while the attack is on: `rate` per second of active time, at most `cap` at a time. */
class Pacer {
  private credit = 0;
  private last = Date.now();
  constructor(
    private readonly perSecond: number,
    private readonly cap: number,
  ) {}
  owed(): number {
    const now = Date.now();
    if (control.active)
      this.credit = Math.min(this.cap, this.credit + ((now - this.last) * this.perSecond) / 1_000);
    this.last = now;
    const whole = Math.floor(this.credit);
    this.credit -= whole;
    return whole;
  }
}

/** Waits while the attack is paused; false once it has ended. */
async function attacking(): Promise<boolean> {
  while (!control.active && !control.ended) await tick(5);
  return !control.ended;
}
const done = {
  mode,
  sent: 0,
  perSecond: 0,
  connections: 0,
  cuts: 0,
  closeCodes: {} as Record<string, number>,
};

function closed(client: RawPresenceClient): void {
  done.cuts++;
  const code = String(client.closeCode);
  done.closeCodes[code] = (done.closeCodes[code] ?? 0) + 1;
}

/** Syncs once, stops reading, then repeats the sync with its first (soon old) revision at `rate` per second. */
async function syncFlood(): Promise<void> {
  while (await attacking()) {
    const client = await RawPresenceClient.connect(server);
    client.keep = false;
    done.connections++;
    client.sync("office", "mallory");
    const first = await client.next((m) => m.$presence === "snapshot", 30_000);
    const old = { epoch: first.epoch as string, rev: first.rev as number };
    client.pause();
    // Paced by the clock, not by ticks: a late timer sends the syncs it owes, never more than `rate`.
    const pacer = new Pacer(rate, Math.max(1, rate / 20));
    while (!control.ended && !client.isClosed()) {
      const owed = pacer.owed();
      for (let i = 0; i < owed; i++) client.sync("office", "mallory", {}, old);
      done.sent += owed;
      await tick(10);
    }
    if (client.isClosed()) closed(client);
    client.close();
  }
}

/** One member sending `rate` updates per second; reconnects and goes on when cut. */
async function updateFlood(): Promise<void> {
  const perTick = Math.max(1, Math.round(rate / 100));
  const texts = Array.from({ length: perTick }, (_, x) =>
    encodePresence({ type: "update", space: "office", state: { layout: { x, y: 0 } } }),
  );
  const frames = maskedFrames(texts);
  while (await attacking()) {
    const client = await RawPresenceClient.connect(server);
    client.keep = false;
    done.connections++;
    client.sync("office", "flood");
    // Socket.IO frames carry the engine's and the namespace's packet prefixes: sent through the client.
    const write = (): boolean => {
      if (server.kind === "ws") return client.writeFrames(frames);
      // What the engine still holds is not sent: past 10,000 packets this chunk is skipped, not counted.
      if (client.isClosed() || client.backlog() > 10_000) return false;
      client.sendMany(texts);
      return true;
    };
    // Chunks of `perTick` at `rate`; at most 5 owed chunks at a time, then yield, so a close is noticed.
    const pacer = new Pacer(rate / perTick, 5);
    while (!control.ended && !client.isClosed()) {
      const owed = pacer.owed();
      for (let k = 0; k < owed; k++) if (write()) done.sent += perTick;
      await tick(5);
    }
    if (client.isClosed()) closed(client);
    client.close();
  }
}

/** Connect, sync 16 new spaces, drop, repeat: seats left in their grace period. */
async function churn(): Promise<void> {
  let round = 0;
  while (await attacking()) {
    const client = await RawPresenceClient.connect(server);
    client.keep = false;
    done.connections++;
    round++;
    for (let s = 0; s < 16; s++) client.sync(`churn-${round}-${s}`, `m-${round}`);
    done.sent += 16;
    await client.next((m) => m.space === `churn-${round}-15`, 30_000).catch(() => undefined);
    client.close();
  }
}

const run = { "sync-flood": syncFlood, "update-flood": updateFlood, churn }[mode as "churn"];
if (run === undefined) throw new Error(`unknown attack ${mode}`);
await Promise.race([run(), ended]);
await ended;
done.perSecond = Math.round(done.sent / (control.activeMs / 1_000));
process.stdout.write(`${JSON.stringify(done)}\n`);
process.exit(0);
