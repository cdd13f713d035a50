import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";
import { officeCommands } from "./test/browser/office-commands.js";

/**
 * Two projects, one command (`vitest run`): `node` (unit, property and integration tests in Node) and
 * `browser` (real Debian Chromium driven by playwright; servers started in Node by the global setup).
 * `CHROMIUM_PATH` overrides where Chromium lives. `officeCommands` open the virtual-office example in pages
 * of their own (two visitors) for its browser test.
 */
export default defineConfig({
  test: {
    // Most test files wait on sockets and timers, not on the CPU: three files at a time halves `npm test` on a
    // 2-core machine (226 s -> 126 s of vitest, 0 failures, measured with `npx vitest run --maxWorkers=3`
    // while the machine was busy), where vitest's default (cores - 1) ran them one by one.
    maxWorkers: 3,
    testTimeout: 15_000,
    hookTimeout: 15_000,
    projects: [
      {
        extends: true,
        test: { name: "node", include: ["test/**/*.test.ts"], exclude: ["test/browser/**"] },
      },
      {
        extends: true,
        test: {
          name: "browser",
          // One file at a time: the files share the servers of the global setup and count attempts on them.
          maxWorkers: 1,
          include: ["test/browser/**/*.browser.test.ts"],
          globalSetup: ["test/browser/global-setup.ts"],
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            commands: officeCommands,
            provider: playwright({
              launchOptions: {
                executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
                args: [
                  "--no-sandbox",
                  "--headless",
                  "--disable-gpu",
                  "--disable-quic",
                  "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update",
                  "--disable-sync",
                  "--disable-dev-shm-usage",
                ],
              },
            }),
            instances: [{ browser: "chromium" }],
          },
        },
      },
    ],
  },
});
