import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served by the cloud hub at /dashboard/ (cloud-hub --dashboard-dir apps/dashboard/dist, the
// default). `npm run dev` proxies the API to a hub on :9090.
export default defineConfig({
  base: "/dashboard/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:9090" } },
  },
});
