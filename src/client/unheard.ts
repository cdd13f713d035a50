/**
 * An error that nothing listens for is reported once per socket, the way Node reports its own warnings:
 * `process.emitWarning` where there is a `process` (shown on stderr, silenced by `--no-warnings`, observable
 * with `process.on("warning")`), else `console.warn`. Unlike Node's EventEmitter nothing is thrown: the socket
 * carries on, so a dead port retried for ever is not silent, and a socket failing for hours prints one line.
 */

/** `type` of the warning passed to `process.emitWarning`. */
export const WARNING_TYPE = "ResilientReconnectWarning";

/** Reports `error`, emitted by `source` with no `error` listener (the caller makes sure it is the first). */
export function warnUnheard(source: string, error: unknown): void {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const message = `${source} has no "error" listener and reported: ${text} (it carries on; listen to "error" to handle errors — this is reported once per socket)`;
  const code = (error as { code?: unknown } | null)?.code;
  const host = globalThis as {
    process?: { emitWarning?: (message: string, options: { type: string; code?: string }) => void };
  };
  try {
    if (typeof host.process?.emitWarning === "function")
      host.process.emitWarning(message, {
        type: WARNING_TYPE,
        ...(typeof code === "string" ? { code } : {}),
      });
    else globalThis.console?.warn(message);
  } catch {
    // A warning that cannot be shown (a --throw-deprecation style hook, a console gone) must not stop the socket.
  }
}
