/** The pure rule that decides whether a close is final: a close that carried a hint reading never is. */
import { describe, expect, it } from "vitest";
import { closeOutcome } from "../../src/client/close-outcome.js";
import { readDrainHint, readRefusalHint } from "../../src/policy/hints.js";

const defaults = { retryOnRefusal: false, reconnectOnServerClose: false };
const codes = (outcome: ReturnType<typeof closeOutcome>) => outcome.errors.map((e) => e.code);

describe("closeOutcome", () => {
  it("stops after a deliberate server close that carried no hint", () => {
    const outcome = closeOutcome({ kind: "deliberate", reason: "io server disconnect" }, undefined, defaults);
    expect(outcome).toMatchObject({ stop: true, hint: undefined });
    expect(codes(outcome)).toEqual([]);
  });

  it("does not stop after a deliberate close announced by a malformed drain notice: BAD_HINT and backoff", () => {
    for (const payload of [{ retryAfterMs: -1 }, "x", undefined]) {
      const info = {
        kind: "deliberate" as const,
        reason: "io server disconnect",
        hint: readDrainHint(payload),
      };
      const outcome = closeOutcome(info, undefined, defaults);
      expect(outcome).toMatchObject({ stop: false, hint: undefined });
      expect(codes(outcome)).toEqual(["BAD_HINT"]);
    }
  });

  it("obeys a well-formed drain notice's hint", () => {
    const info = { kind: "deliberate" as const, hint: readDrainHint({ retryAfterMs: 50 }) };
    expect(closeOutcome(info, undefined, defaults)).toMatchObject({ stop: false, hint: { delayMs: 50 } });
  });

  it("stops on a refusal without any data (an auth refusal) unless retryOnRefusal", () => {
    const info = { kind: "refused" as const, reason: "nope" };
    expect(closeOutcome(info, undefined, defaults).stop).toBe(true);
    expect(codes(closeOutcome(info, undefined, defaults))).toEqual(["REFUSED"]);
    expect(closeOutcome(info, undefined, { ...defaults, retryOnRefusal: true }).stop).toBe(false);
  });

  it("does not stop on a refusal whose data is not a usable hint: BAD_HINT and backoff", () => {
    for (const data of [{ reason: "maintenance" }, { retryAfterMs: "x" }, "x"]) {
      const reading = readRefusalHint(data);
      const outcome = closeOutcome({ kind: "refused", reason: "busy", hint: reading }, undefined, defaults);
      expect(outcome).toMatchObject({ stop: false, hint: undefined });
      expect(codes(outcome)).toEqual(["BAD_HINT"]);
    }
  });
});

describe("closeOutcome: the system error in a failure's message", () => {
  const failed = (error: unknown, reason = "") =>
    closeOutcome({ kind: "error", reason, error }, undefined, defaults);

  it("puts a nested system error's code and address first, the transport's words after", () => {
    const system = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), {
      code: "ECONNREFUSED",
      address: "127.0.0.1",
      port: 9,
    });
    const engine = Object.assign(new Error("websocket error"), { description: { error: system } });
    expect(failed(system).errors[0]?.message).toBe("connection failed: ECONNREFUSED 127.0.0.1:9");
    expect(failed(engine, "websocket error").errors[0]?.message).toBe(
      "connection failed: ECONNREFUSED 127.0.0.1:9 (websocket error)",
    );
    expect(failed(new Error("x", { cause: { code: "ENOTFOUND" } })).errors[0]?.message).toBe(
      "connection failed: ENOTFOUND",
    );
  });

  it("keeps the message bounded and ignores what is not a system error, however the cause is built", () => {
    const cyclic: Record<string, unknown> = { code: "not a code" };
    cyclic.cause = cyclic;
    const throwing = Object.defineProperty({}, "code", {
      get() {
        throw new Error("hostile getter");
      },
    });
    let deep: unknown = { code: "EDEEP" };
    for (let i = 0; i < 10_000; i++) deep = { cause: deep };
    for (const error of [cyclic, throwing, deep, { code: `E${"X".repeat(10_000)}` }, 42, "ECONNREFUSED"]) {
      expect(failed(error).errors[0]?.message).toBe("connection failed");
    }
    const long = { code: "ECONNREFUSED", address: "a".repeat(10_000), port: 9 };
    expect(failed(long).errors[0]?.message).toBe("connection failed: ECONNREFUSED");
    const message = failed(long, "r".repeat(10_000)).errors[0]?.message ?? "";
    expect(message.length).toBeLessThan(400);
  });
});
