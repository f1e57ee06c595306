import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { VitePWA } from "vite-plugin-pwa";

// Served by the cloud hub at / (cloud-hub --web-dir apps/customer/dist). `npm run dev` proxies the API to a hub on :9090.
export default defineConfig({
  base: "/",
  plugins: [
    react(),
    // The web manifest and a workbox service worker (generateSW): the app shell
    // precached, every page of the app answered with it offline, and the last
    // store pages seen network-first with the cache as fallback.
    VitePWA({
      registerType: "autoUpdate",
      injectRegister: "script-defer",
      includeAssets: ["icons/apple-touch-icon-180.png"],
      manifest: {
        id: "/",
        name: "Order online",
        short_name: "Order",
        description: "Order from your local restaurant for pickup, and follow your order live.",
        start_url: "/",
        scope: "/",
        display: "standalone",
        orientation: "portrait",
        theme_color: "#101418",
        background_color: "#101418",
        icons: [
          { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
          { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
          { src: "/icons/maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
      workbox: {
        // The shell; the manifest and its icons are added by the plugin.
        globPatterns: ["**/*.{js,css,html}"],
        // A new version takes over at once (one bundle, no lazy chunks to go missing), and a
        // page opened before the worker was installed is controlled from then on, so the
        // menu it shows next is kept.
        skipWaiting: true,
        clientsClaim: true,
        navigateFallback: "/index.html",
        // The API's paths are never the app's page, online or not.
        navigateFallbackDenylist: [/^\/api(\/|$)/],
        cleanupOutdatedCaches: true,
        runtimeCaching: [
          {
            // The store pages kept for offline use: the store list, a store's profile and its menu
            // (GET only: workbox routes match GET unless told otherwise). Nothing else under /api is
            // cached: not order placement, not cart pricing (POST), not auth, not /api/v1/me/*.
            // The pattern is written inline: this function is copied into sw.js on its own.
            urlPattern: ({ url, sameOrigin }) => sameOrigin && /^\/api\/v1\/public\/stores(\/[^/]+(\/menu)?)?\/?$/.test(url.pathname),
            handler: "NetworkFirst",
            options: {
              cacheName: "store-pages",
              // A network that hangs (a train tunnel) falls back to the last menu after 4 s instead of spinning.
              networkTimeoutSeconds: 4,
              cacheableResponse: { statuses: [200] },
              expiration: { maxEntries: 60 },
            },
          },
        ],
      },
    }),
  ],
  build: { outDir: "dist", emptyOutDir: true },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:9090", ws: true } },
  },
});
