import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served by the cloud hub at / (cloud-hub --web-dir apps/customer/dist). `npm run dev` proxies the API to a hub on :9090.
export default defineConfig({
  base: "/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:9090", ws: true } },
  },
});
