/**
 * The page's code: one ResilientSocket over the browser's own WebSocket, its state, the countdown to the next
 * retry (from the `retry` event), and what the server sends. Bundled for the browser by serve.ts.
 */
import { ResilientSocket } from "resilient-reconnect";
import { webSocketTransport } from "resilient-reconnect/websocket";

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const log = (line: string) => {
  const text = `${new Date().toISOString().slice(11, 23)} ${line}`;
  $("log").textContent += `${text}\n`;
  console.log(text);
};

const socket = new ResilientSocket({
  transport: webSocketTransport({ url: `ws://${location.host}/live` }),
});
let countdown: ReturnType<typeof setInterval> | undefined;
socket.on("state", (state, previous) => {
  $("state").textContent = state;
  log(`state ${previous} -> ${state}`);
});
socket.on("retry", ({ attempt, delayMs, cause, hint }) => {
  log(
    `retry #${attempt} in ${Math.round(delayMs)} ms (${cause}${hint ? `, server asked ${hint.delayMs} ms` : ""})`,
  );
  clearInterval(countdown);
  const at = Date.now() + delayMs;
  countdown = setInterval(() => {
    const left = at - Date.now();
    $("countdown").textContent = left > 0 ? `next attempt in ${(left / 1000).toFixed(1)} s` : "";
    if (left <= 0) clearInterval(countdown);
  }, 100);
});
socket.on("message", (data) => log(`message: ${String(data)}`));
// Listened to, errors say what happened; unheard, the socket reports its first one once with console.warn.
socket.on("error", (error) => log(`error ${error.code}: ${error.message}`));
let sent = 0;
$("send").addEventListener("click", () => log(`send #${++sent}: ${socket.send(`hello #${sent}`)}`));
(window as unknown as { demo: unknown }).demo = { socket, send: () => $("send").click() };
