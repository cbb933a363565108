/** The web-call suite: the base configuration, with Chromium's fake microphone fed from the
 * WAV tests/web_calls/test_browser_web_call.py builds (VOCALS_E2E_FAKE_AUDIO). */
import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

const wav = process.env.VOCALS_E2E_FAKE_AUDIO ?? "";

export default defineConfig({
  ...base,
  testDir: "./e2e-web-call",
  use: {
    ...base.use,
    launchOptions: {
      ...base.use?.launchOptions,
      args: [
        ...(base.use?.launchOptions?.args ?? []),
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-audio-capture=${wav}`,
        "--autoplay-policy=no-user-gesture-required",
      ],
    },
  },
});
