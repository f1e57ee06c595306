import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served by the store node at /kds/ (store-node --web-dir apps). `npm run dev` proxies the API to a node on :8080.
export default defineConfig({
  base: "/kds/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:8080", ws: true } },
  },
});
