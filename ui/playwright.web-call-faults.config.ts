/** The web-call fault suite (tests/web_calls/test_browser_web_call.py runs it): a Chromium
 * with no microphone at all, and one with Chromium's fake microphone whose connection to the
 * server is cut by the test's proxy (VOCALS_E2E_CUT_URL). */
import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

const args = base.use?.launchOptions?.args ?? [];

export default defineConfig({
  ...base,
  testDir: "./e2e-web-call-faults",
  projects: [
    {
      // Projects are named apart from the tests' titles: `grep` reads the project's name too.
      name: "chromium-without-audio",
      grep: /no microphone gets/,
      use: {
        ...base.use,
        launchOptions: {
          ...base.use?.launchOptions,
          args,
          // Chromium's audio backends pointed at nothing: no input device, whatever the host has.
          env: { ...process.env, PULSE_SERVER: "unix:/nonexistent", ALSA_CONFIG_PATH: "/dev/null" },
        },
      },
    },
    {
      name: "chromium-fake-microphone",
      grep: /lost connection gets/,
      use: {
        ...base.use,
        launchOptions: {
          ...base.use?.launchOptions,
          args: [...args, "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required"],
        },
      },
    },
  ],
});
