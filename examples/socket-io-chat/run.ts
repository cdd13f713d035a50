/**
 * The chat, twice over: alice on plain socket.io-client, bob on resilient-reconnect's io() — the same
 * client file but for the import line and options. They join a room, type, chat (acks), live through a
 * network blip (both come back `recovered`) and a server restart (both rejoin), then leave. Stops by itself.
 *
 *   npm run example:chat
 */
import { chatClient } from "./client-plain.js";
import { chatClient as resilientChatClient } from "./client-resilient.js";
import { chatServer } from "./server.js";

const started = Date.now();
const log = (line: string) => console.log(`[${String(Date.now() - started).padStart(5)} ms] ${line}`);
const until = async (what: string, check: () => boolean) => {
  const limit = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > limit) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const server = await chatServer();
const lines: string[] = [];
const record = (line: string) => {
  lines.push(line);
  log(line);
};
const alice = chatClient(server.url, "alice", "lobby", record);
const bob = resilientChatClient(server.url, "bob", "lobby", record);
const joined = (who: string, n: number) => lines.filter((l) => l.startsWith(`${who} joined`)).length >= n;
await until("both joined", () => joined("alice", 1) && joined("bob", 1));

alice.typing();
log(`alice's message acknowledged as #${await alice.say("hi bob")}`);
bob.typing();
log(`bob's message acknowledged as #${await bob.say("hi alice")}`);

log("--- network blip: the server closes every connection");
server.blip();
await until("both back", () => joined("alice", 2) && joined("bob", 2));
log(`bob's message acknowledged as #${await bob.say("still there?")}`);

log("--- server restart: sessions lost, both rejoin");
await server.restart();
await until("both rejoined", () => joined("alice", 3) && joined("bob", 3));
log(`alice's message acknowledged as #${await alice.say("back after the deploy")}`);
await until("bob saw it", () => lines.some((l) => l === "bob sees alice: back after the deploy"));

alice.leave();
bob.leave();
await server.close();
const recovered = lines.filter((l) => l.includes("recovered: true")).map((l) => l.split(" ")[0]);
console.log(`done: ${JSON.stringify({ recoveredAfterBlip: recovered, messages: 4 })}`);
