/**
 * Runs the virtual-office example as its own process, exactly as `npm run example:office` does (tsx, so
 * the example's `resilient-reconnect/*` imports resolve like a reader's would), on 127.0.0.1 port 0. It is
 * also told to exit by itself after `exitAfterMs`, so a test run that dies cannot leave it behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
const tsx = join(root, "node_modules", ".bin", "tsx");

export interface OfficeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code once it has exited. */
  readonly exited: Promise<number | null>;
  /** Asks it to stop (SIGTERM: it closes its servers) and waits for the exit. */
  stop(): Promise<number | null>;
}

export function startOfficeProcess(exitAfterMs = 300_000, startTimeoutMs = 20_000): Promise<OfficeProcess> {
  const child = spawn(tsx, ["examples/virtual-office/server.ts", "--exit-after-ms", String(exitAfterMs)], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`virtual office did not print its address within ${startTimeoutMs} ms:\n${output}`));
    }, startTimeoutMs);
    const onData = (chunk: Buffer) => {
      output += String(chunk);
      const url = /virtual office on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      resolve({
        url,
        child,
        output: () => output,
        exited,
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          return exited;
        },
      });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += String(chunk);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`virtual office exited (code ${code}) before printing its address:\n${output}`));
    });
  });
}
