/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The app is served by scripts/web_server.py behind the gateway at `/`, the
// API on the same origin under /api/: no CORS, and a CSP of 'self' holds.
export default defineConfig({
  plugins: [react()],
  build: {
    // Hashed names under /assets/ are cached for a year; index.html never.
    assetsDir: "assets",
    sourcemap: false,
    // No inline <script> or modulepreload polyfill: the gateway's CSP allows
    // scripts from 'self' only.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 900,
  },
  server: {
    proxy: { "/api": process.env.CERC_GATEWAY ?? "http://127.0.0.1:18080" },
  },
  test: {
    include: ["src/**/*.test.{ts,tsx}"],
    environment: "jsdom",
  },
});
