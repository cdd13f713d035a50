import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    websocket: "src/websocket.ts",
    "socket-io": "src/socket-io.ts",
    presence: "src/presence/index.ts",
    server: "src/server/index.ts",
    "server-redis": "src/server/redis/index.ts",
    internals: "src/internals.ts",
  },
  format: ["esm", "cjs"],
  // TS 6 deprecates `baseUrl`, which tsup's dts step sets internally (TS5101 without this).
  dts: { compilerOptions: { ignoreDeprecations: "6.0" } },
  // No source maps in the package: they embedded the whole source (61 % of the unpacked tarball), and the
  // unminified ESM/CJS output is readable as it is.
  sourcemap: false,
  clean: true,
  target: "es2022",
  platform: "neutral",
  external: ["socket.io-client", "socket.io", "ws", "ioredis", /^node:/],
  treeshake: true,
});
