/**
 * The virtual office page: one ResilientSocket to /ws, one Presence in space "office", an SVG map of the
 * rooms with every member's avatar (emoji, name) at its layout position, the connection state and the
 * countdown to the next retry. Bundled for the browser by server.ts.
 */
import { decorrelatedJitter, ResilientSocket } from "resilient-reconnect";
import { type LayoutPosition, Presence } from "resilient-reconnect/presence";
import { webSocketTransport } from "resilient-reconnect/websocket";

const ROOMS = [
  { id: "lobby", label: "Lobby", x: 0, y: 0 },
  { id: "kitchen", label: "Kitchen", x: 320, y: 0 },
  { id: "meeting", label: "Meeting room", x: 0, y: 220 },
  { id: "garden", label: "Garden", x: 320, y: 220 },
] as const;
const ROOM_W = 320;
const ROOM_H = 220;
const EMOJI = ["🙂", "☕", "🎧", "🚀", "🌱", "🍕", "👋", "💡"];
const STEP = 20;
const DROP_ME = "drop-me";
const SVG = "http://www.w3.org/2000/svg";

const $ = <T extends Element>(selector: string): T => {
  const element = document.querySelector<T>(selector);
  if (element === null) throw new Error(`virtual office: no ${selector} in the page`);
  return element;
};

const params = new URLSearchParams(location.search);
const me = params.get("name") ?? `guest-${Math.floor(Math.random() * 10_000)}`;
const socket = new ResilientSocket({
  transport: webSocketTransport({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
  }),
  backoff: decorrelatedJitter({ baseMs: 1_000, capMs: 10_000 }),
});
const presence = new Presence(socket, {
  space: "office",
  member: me,
  initial: { room: "lobby", emoji: "🙂", layout: { x: 40 + Math.floor(Math.random() * 200), y: 60 } },
});

function element(name: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

const map = $<SVGSVGElement>("#map");
const roomsLayer = element("g", { class: "rooms" });
const avatarsLayer = element("g", { class: "avatars" });
map.append(roomsLayer, avatarsLayer);
for (const room of ROOMS) {
  const group = element("g", { class: "room", "data-room": room.id });
  group.append(
    element("rect", { x: room.x + 4, y: room.y + 4, width: ROOM_W - 8, height: ROOM_H - 8, rx: 8 }),
    element("text", { x: room.x + 14, y: room.y + 24 }, room.label),
  );
  roomsLayer.append(group);
}

const clamp = (value: number, max: number) => Math.min(max, Math.max(0, Math.round(value)));

function avatar(id: string, state: { room?: string; emoji?: string; layout?: LayoutPosition }): SVGElement {
  const room = ROOMS.find((r) => r.id === state.room) ?? ROOMS[0];
  const x = room.x + clamp(state.layout?.x ?? 40, ROOM_W - 30) + 15;
  const y = room.y + clamp(state.layout?.y ?? 60, ROOM_H - 30) + 15;
  const group = element("g", {
    class: id === me ? "avatar me" : "avatar",
    transform: `translate(${x} ${y})`,
    "data-member": id,
    "data-room": room.id,
    "data-emoji": state.emoji ?? "",
    "data-x": state.layout?.x ?? "",
    "data-y": state.layout?.y ?? "",
  });
  group.append(
    element("circle", { r: 18 }),
    element(
      "text",
      { class: "emoji", "text-anchor": "middle", "dominant-baseline": "central" },
      state.emoji ?? "·",
    ),
    element("text", { class: "name", "text-anchor": "middle", y: 32 }, id),
  );
  return group;
}

function render(): void {
  const avatars = [...presence.roster.values()].map((member) => avatar(member.id, member.state));
  avatars.push(avatar(me, presence.state));
  avatarsLayer.replaceChildren(...avatars);
  $("#count").textContent = String(presence.roster.size);
  $("#phase").textContent = presence.phase;
  $<HTMLSelectElement>("#room").value = presence.state.room ?? "lobby";
}

/** Connection state, and while a retry is pending, the seconds until it fires (from stats().nextAttemptAt). */
function renderStatus(): void {
  const state = $("#state");
  state.textContent = socket.state;
  state.setAttribute("data-state", socket.state);
  const { nextAttemptAt } = socket.stats();
  $("#retry").textContent =
    nextAttemptAt === undefined || socket.state === "open"
      ? ""
      : `next retry in ${(Math.max(0, nextAttemptAt - Date.now()) / 1_000).toFixed(1)} s`;
  $("#phase").textContent = presence.phase;
}

const roomSelect = $<HTMLSelectElement>("#room");
for (const room of ROOMS) roomSelect.append(new Option(room.label, room.id));
roomSelect.addEventListener("change", () => {
  presence.set("room", roomSelect.value);
  render();
});
for (const emoji of EMOJI) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = emoji;
  button.dataset.emoji = emoji;
  button.addEventListener("click", () => {
    presence.set("emoji", emoji);
    render();
  });
  $("#emojis").append(button);
}
for (const button of document.querySelectorAll<HTMLButtonElement>("[data-move]")) {
  button.addEventListener("click", () => {
    const [dx = 0, dy = 0] = (button.dataset.move ?? "0,0").split(",").map(Number);
    const at = presence.state.layout ?? { x: 40, y: 60 };
    presence.set("layout", {
      x: clamp(at.x + dx * STEP, ROOM_W - 30),
      y: clamp(at.y + dy * STEP, ROOM_H - 30),
    });
    render();
  });
}
map.addEventListener("click", (event) => {
  const box = map.getBoundingClientRect();
  const x = event.clientX - box.left;
  const y = event.clientY - box.top;
  const room = ROOMS.find((r) => x >= r.x && x < r.x + ROOM_W && y >= r.y && y < r.y + ROOM_H);
  if (room === undefined) return;
  presence.set("room", room.id);
  presence.set("layout", { x: clamp(x - room.x - 15, ROOM_W - 30), y: clamp(y - room.y - 15, ROOM_H - 30) });
  render();
});
$("#drop").addEventListener("click", () => socket.send(DROP_ME));

$("#me").textContent = me;
for (const event of ["sync", "join", "leave", "update"] as const) presence.on(event, render);
socket.on("state", renderStatus);
socket.on("retry", renderStatus);
setInterval(renderStatus, 100);
render();
renderStatus();
