/**
 * What every browser test needs on the page side: the control server of the global setup (see servers.ts)
 * and a wait that polls and fails naming what it waited for — never a fixed sleep as an assertion.
 */
import { inject } from "vitest";
import type { ServerLog } from "./servers.js";

export const ports = inject("ports");

/** Calls the control server; throws with its answer when it refuses. */
export async function control(path: string): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${ports.control}${path}`);
  const body = await response.json();
  if (!response.ok) throw new Error(`control ${path}: ${JSON.stringify(body)}`);
  return body;
}

/** The attempts, closes, open count and received messages of the `ws` or `socket.io` server. */
export const serverLog = (name: string) => control(`/${name}/log`) as Promise<ServerLog>;

type Maybe<T> = T | undefined | null | false;

/** Polls `probe` until it returns a truthy value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<Maybe<T>> | Maybe<T>,
  timeoutMs = 8_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Lets `ms` pass so that something that must NOT happen has the chance to (an observation window). */
export const observe = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens a same-origin page (an iframe: its own document, Web Lock requests and BroadcastChannel) from
 * `src`, adds it to `frames` for the test's cleanup, and waits until its script has set `window.tab`.
 */
export async function openFrame<Tab>(
  src: string,
  frames: HTMLIFrameElement[],
): Promise<{ frame: HTMLIFrameElement; tab: Tab }> {
  const frame = document.createElement("iframe");
  frame.src = src;
  document.body.append(frame);
  frames.push(frame);
  const tab = await waitFor(
    "the tab's script",
    () => (frame.contentWindow as unknown as { tab?: Tab } | null)?.tab,
  );
  return { frame, tab };
}
