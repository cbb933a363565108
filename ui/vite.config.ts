/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a local `vocals serve` (VOCALS_API_URL overrides the port).
const apiTarget = process.env.VOCALS_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/api": apiTarget } },
  build: {
    // Charts and the component library are big; splitting them keeps the first page quick.
    rollupOptions: {
      output: {
        manualChunks: {
          charts: ["recharts"],
          mantine: ["@mantine/core", "@mantine/hooks", "@mantine/form", "@mantine/notifications", "@mantine/modals"],
        },
      },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    // userEvent types key by key; on a loaded 2-core machine a long form takes seconds.
    testTimeout: 30_000,
  },
});
