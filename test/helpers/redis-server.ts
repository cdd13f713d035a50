/**
 * A real `redis-server` for the cluster tests and benches: started on 127.0.0.1 at a free port, with no
 * persistence (a restart is an empty Redis, as after a crash without AOF), stopped after. `REDIS_SERVER`
 * overrides the binary (default `redis-server` on the PATH; `.ci/run` installs Debian's).
 *
 * `restart()` kills the process and starts a new one on the same port (clients configured with that port
 * reconnect to it), the "Redis restarted mid-storm" fault; `pause()`/`resume()` stop and continue the
 * process (SIGSTOP/SIGCONT), a Redis that hangs without closing its sockets.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

export interface RedisServer {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The running process's pid. */
  readonly pid: number;
  /** Kills Redis (SIGKILL) and starts an empty one on the same port. */
  restart(): Promise<void>;
  /** Kills Redis (SIGKILL) and leaves it down until `start()`. */
  kill(): Promise<void>;
  /** Starts Redis again on the same port after `kill()`. */
  start(): Promise<void>;
  /** SIGSTOP: Redis holds its sockets open and answers nothing. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Stops Redis for good. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

function launch(port: number): Promise<ChildProcess> {
  const binary = process.env.REDIS_SERVER ?? "redis-server";
  const child = spawn(
    binary,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "yes",
      "--loglevel",
      "notice",
      "--databases",
      "1",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`redis-server did not start on port ${port} in 10 s: ${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${binary} (install redis-server): ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code ?? signal}) before it was ready: ${output}`));
    });
  });
}

async function killProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGCONT");
  child.kill("SIGKILL");
  await exited;
}

/**
 * Starts a `redis-server` on a free loopback port. A port taken between the probe and the start (another
 * process raced for it) is retried on a new port, up to five times.
 */
export async function startRedis(): Promise<RedisServer> {
  let port = 0;
  let child: ChildProcess | undefined;
  for (let tries = 0; child === undefined; tries++) {
    port = await freePort();
    try {
      child = await launch(port);
    } catch (error) {
      if (tries >= 4) throw error;
    }
  }
  let current: ChildProcess | undefined = child;
  const server: RedisServer = {
    host: "127.0.0.1",
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return current?.pid ?? -1;
    },
    async restart() {
      await killProcess(current);
      current = await launch(port);
    },
    async kill() {
      await killProcess(current);
      current = undefined;
    },
    async start() {
      if (current !== undefined) return;
      current = await launch(port);
    },
    pause() {
      current?.kill("SIGSTOP");
    },
    resume() {
      current?.kill("SIGCONT");
    },
    async stop() {
      await killProcess(current);
      current = undefined;
    },
  };
  return server;
}
