import { ResilientSocket } from "./src/index.ts";
const gc = (globalThis as any).gc;
const t = { name: "x", connect() { return { send() {}, close() {} }; } };
const m = () => { for (let i = 0; i < 5; i++) gc(); return process.memoryUsage().heapUsed; };
const a = m(); const keep = Array.from({ length: 5000 }, () => new ResilientSocket({ transport: t, autoConnect: false }));
const b = m(); console.log("idle ResilientSocket B:", Math.round((b - a) / 5000));
for (const s of keep) s.connect();
const c = m(); console.log("+ attempt (connect timer, handlers) B:", Math.round((c - b) / 5000), keep.length);
