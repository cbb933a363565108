/** End-to-end tests against a running `vocals serve` (tests/ui/test_browser.py starts one and
 * passes its address), in Debian's Chromium: browser downloads are not part of our setup. */
import { defineConfig, devices } from "@playwright/test";

const chromium = process.env.VOCALS_CHROMIUM ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "./e2e",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  // The machine is small and shared; pages get generous time, never a retry that hides a bug.
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  outputDir: process.env.VOCALS_E2E_ARTIFACTS ? `${process.env.VOCALS_E2E_ARTIFACTS}/playwright` : "../test-artifacts/ui/playwright",
  use: {
    baseURL: process.env.VOCALS_E2E_URL ?? "http://127.0.0.1:8000",
    ...devices["Desktop Chrome"],
    viewport: { width: 1366, height: 900 },
    // No transitions: screenshots show settled pages (the app honours reduced motion).
    contextOptions: { reducedMotion: "reduce" },
    actionTimeout: 20_000,
    navigationTimeout: 30_000,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromium,
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
      ],
    },
  },
});
