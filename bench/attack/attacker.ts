/**
 * One attacker, run as its own process so its work does not share the server's event loop (a real attacker
 * is another machine). Prints one JSON line of what it did when its time is up.
 *
 *   node --import tsx bench/attack/attacker.ts <sync-flood|update-flood|churn> <url> <seconds> [rate] [ws|socket.io]
 *
 * It prints `ready` once loaded and starts when a line arrives on stdin: its start-up (tsx compiling it)
 * must not fall inside the attack phase, where it would be counted as the attack's cost.
 */
import { encodePresence } from "../../src/presence/index.js";
import { maskedFrames, RawPresenceClient } from "./servers.js";

const [mode, url, secondsText, rateText, kindText] = process.argv.slice(2);
if (url === undefined || secondsText === undefined)
  throw new Error("usage: attacker.ts <mode> <url> <seconds> [rate]");
const server = { kind: kindText === "socket.io" ? ("socket.io" as const) : ("ws" as const), url };
process.stdout.write("ready\n");
await new Promise<void>((resolve) => {
  // The runner gone before it said go: nothing to attack, nobody to report to.
  const gone = () => process.exit(0);
  process.stdin.once("end", gone);
  process.stdin.once("data", () => {
    process.stdin.off("end", gone);
    process.stdin.pause();
    resolve();
  });
});
const until = Date.now() + Number(secondsText) * 1_000;
const rate = Number(rateText ?? "0");
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const startedAt = Date.now();
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
  while (Date.now() < until) {
    const client = await RawPresenceClient.connect(server);
    client.keep = false;
    done.connections++;
    client.sync("office", "mallory");
    const first = await client.next((m) => m.$presence === "snapshot", 30_000);
    const old = { epoch: first.epoch as string, rev: first.rev as number };
    client.pause();
    // Paced by the clock, not by ticks: a late timer sends the syncs it owes, never more than `rate`.
    const began = Date.now();
    let sent = 0;
    while (Date.now() < until && !client.isClosed()) {
      const owed = Math.floor(((Date.now() - began) * rate) / 1_000) - sent;
      for (let i = 0; i < owed; i++) client.sync("office", "mallory", {}, old);
      sent += Math.max(0, owed);
      done.sent += Math.max(0, owed);
      await tick(10);
    }
    if (client.isClosed()) closed(client);
    client.close();
  }
}

/** One member sending `rate` updates per second; reconnects and goes on when cut. */
async function updateFlood(): Promise<void> {
  while (Date.now() < until) {
    const client = await RawPresenceClient.connect(server);
    client.keep = false;
    done.connections++;
    client.sync("office", "flood");
    const perTick = Math.max(1, Math.round(rate / 100));
    const texts = Array.from({ length: perTick }, (_, x) =>
      encodePresence({ type: "update", space: "office", state: { layout: { x, y: 0 } } }),
    );
    const frames = maskedFrames(texts);
    // Socket.IO frames carry the engine's and the namespace's packet prefixes: sent through the client.
    const write = (): boolean => {
      if (server.kind === "ws") return client.writeFrames(frames);
      // What the engine still holds is not sent: past 10,000 packets this tick is skipped, not counted.
      if (client.isClosed() || client.backlog() > 10_000) return false;
      client.sendMany(texts);
      return true;
    };
    // Paced by the clock: a late timer sends what it owes (the rate is what reached the network).
    const began = Date.now();
    let ticks = 0;
    while (Date.now() < until && !client.isClosed()) {
      // At most 5 owed ticks at a time, then yield: a close must be noticed, even when sending is slow.
      const due = Math.floor((Date.now() - began) / 10);
      for (let k = 0; k < 5 && ticks < due; k++) {
        ticks++;
        if (write()) done.sent += perTick;
      }
      ticks = Math.max(ticks, due - 5);
      await tick(5);
    }
    if (client.isClosed()) closed(client);
    client.close();
  }
}

/** Connect, sync 16 new spaces, drop, repeat: seats left in their grace period. */
async function churn(): Promise<void> {
  let round = 0;
  while (Date.now() < until) {
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
await run();
done.perSecond = Math.round(done.sent / ((Date.now() - startedAt) / 1_000));
process.stdout.write(`${JSON.stringify(done)}\n`);
process.exit(0);
