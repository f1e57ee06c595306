// The customer app as an installable, offline-capable web app, in a real
// browser at phone size against a real cloud hub and a store node syncing
// with it: the web manifest is served and complete (its icons are PNGs of the
// sizes it says), the service worker registers and controls the page after a
// reload, and Chromium finds nothing that stops installing it. Then offline
// (the browser's network cut, the worker's too): a reload still shows the app
// and the last menu seen, the banner says the customer is offline, and
// checkout's place button waits with that reason; back online, the banner
// goes and the order can be placed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { a11y, launchProfile, shot, startHub, startNode, syncEnv } from "../harness.mjs";

const PHONE = { width: 390, height: 844 };
const STORE = "harbor-street";
const OFFLINE = "You're offline. You can look at the menu; ordering needs a connection.";

let hub;
let node;
before(async () => {
  hub = await startHub();
  const token = await hub.enroll(STORE, "Harbor Street Kitchen");
  node = await startNode({ env: syncEnv(hub.base, STORE, token) });
  // The node syncs its menu up and the hub sees it connected: the store takes orders.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await fetch(`${hub.base}/api/v1/public/stores/${STORE}/menu`);
    if (r.ok && (await r.json()).ordering.accepting) break;
    if (Date.now() > deadline) assert.fail("the store never took online orders at the hub");
    await new Promise((ok) => setTimeout(ok, 100)); // polling interval, bounded by the deadline above
  }
});
after(async () => {
  await node?.stop();
  await hub?.stop();
});

/** Width and height from a PNG's IHDR chunk; fails unless `bytes` is a PNG. */
function pngSize(bytes, what) {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...bytes.subarray(0, 8)], sig, `${what} is a PNG`);
  assert.equal(bytes.toString("ascii", 12, 16), "IHDR", `${what} starts with its header`);
  return `${bytes.readUInt32BE(16)}x${bytes.readUInt32BE(20)}`;
}

test("the manifest is served and complete, with PNG icons of the sizes it says", async () => {
  const html = await (await fetch(`${hub.base}/`)).text();
  const href = /<link rel="manifest" href="([^"]+)"/.exec(html)?.[1];
  assert.ok(href, "the app's page links its manifest");
  const url = new URL(href, `${hub.base}/`);
  const r = await fetch(url);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /^application\/manifest\+json/);
  const m = await r.json();
  assert.equal(m.name, "Order online");
  assert.equal(m.short_name, "Order");
  assert.equal(m.start_url, "/");
  assert.equal(m.scope, "/");
  assert.equal(m.display, "standalone");
  assert.match(m.theme_color, /^#[0-9a-f]{6}$/i);
  assert.match(m.background_color, /^#[0-9a-f]{6}$/i);
  const sizes = [];
  for (const icon of m.icons) {
    assert.equal(icon.type, "image/png");
    const res = await fetch(new URL(icon.src, url));
    assert.equal(res.status, 200, `${icon.src} is served`);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.equal(pngSize(Buffer.from(await res.arrayBuffer()), icon.src), icon.sizes, `${icon.src} is ${icon.sizes}`);
    sizes.push(`${icon.sizes} ${icon.purpose ?? "any"}`);
  }
  assert.deepEqual(sizes.sort(), ["192x192 any", "512x512 any", "512x512 maskable"]);
});

test("installable; offline the last menu shows, the banner says so and ordering waits; back online it goes on", async (t) => {
  // A browser profile of its own: Chromium does not install web apps from incognito, which new contexts are.
  const context = await launchProfile({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  t.after(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));

  // A customer with an account on this device (signed up over the API: the sign-up form has its own test).
  const signup = await fetch(`${hub.base}/api/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "offline@example.com", password: "lantern-quartz-58-harbor", name: "Sam" }),
  });
  assert.equal(signup.status, 201);
  const pair = await signup.json();

  // The worker registers and is active; after a reload it controls the page.
  await page.goto(`${hub.base}/`);
  await page.evaluate(
    ({ access, refresh }) =>
      localStorage.setItem("edge.customer.account", JSON.stringify({ access, refresh, email: "offline@example.com" })),
    { access: pair.access_token, refresh: pair.refresh_token },
  );
  const scope = await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active && r.scope));
  assert.equal(scope, `${hub.base}/`);
  await page.reload();
  await page.getByRole("heading", { name: "Find a store" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL), `${hub.base}/sw.js`);

  // Chromium's own installability check finds nothing missing.
  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
  assert.deepEqual(installabilityErrors, []);

  // Look at a store's menu and put something in the cart; the worker keeps the store and its menu.
  await page.getByRole("link", { name: /Harbor Street Kitchen/ }).click();
  await page.getByRole("heading", { name: "Salads & Sides" }).waitFor();
  await page.getByTestId("item-house-garden-salad").click();
  const sheet = page.getByRole("dialog", { name: "House Garden Salad" });
  await sheet.getByRole("button", { name: /Buttermilk Ranch/ }).click();
  await sheet.getByRole("button", { name: /^Add/ }).click();
  await page.getByTestId("cart-summary").filter({ hasText: /1 item · \$\d+\.\d\d/ }).waitFor();
  await page.waitForFunction(
    async (store) => {
      const keys = (await (await caches.open("store-pages")).keys()).map((r) => new URL(r.url).pathname);
      return keys.includes(`/api/v1/public/stores/${store}`) && keys.includes(`/api/v1/public/stores/${store}/menu`);
    },
    STORE,
    { timeout: 10_000 },
  );

  // Offline. The worker cannot reach the hub either: a store-list address it never kept fails.
  await context.setOffline(true);
  await page.getByTestId("offline-banner").filter({ hasText: OFFLINE }).waitFor();
  const probe = await page.evaluate(() =>
    fetch(`/api/v1/public/stores?probe=${Date.now()}`).then(
      (r) => `answered ${r.status}`,
      () => "failed",
    ),
  );
  assert.equal(probe, "failed", "offline means the service worker's network too");

  // A reload offline: the app shell from the worker, the store and its last menu from its cache.
  await page.reload();
  await page.getByRole("heading", { name: "Harbor Street Kitchen" }).waitFor();
  await page.getByRole("heading", { name: "Salads & Sides" }).waitFor();
  assert.match(await page.getByTestId("item-house-garden-salad").innerText(), /House Garden Salad[\s\S]*\$9\.50/);
  await page.getByTestId("cart-summary").filter({ hasText: "1 item" }).waitFor();

  // The app opened again, still offline (a new tab, as from the home screen): the same, and the banner.
  // (Chromium's offline emulation keeps the network cut across a reload, but the reloaded document
  // reads navigator.onLine as true, which a device that is really offline never does; a page opened
  // while offline reads it as a device would.)
  await page.close();
  const again = await context.newPage();
  again.on("pageerror", (e) => errors.push(e));
  await again.goto(`${hub.base}/stores/${STORE}`);
  await again.getByRole("heading", { name: "Salads & Sides" }).waitFor();
  assert.match(await again.getByTestId("item-house-garden-salad").innerText(), /House Garden Salad[\s\S]*\$9\.50/);
  await again.getByTestId("offline-banner").filter({ hasText: OFFLINE }).waitFor();
  await shot(again, "customer-pwa-1-offline-menu");
  await a11y(again, "the menu, offline");

  // Checkout offline: the cart is there; placing it waits for the connection, and says why.
  await again.getByRole("link", { name: "View cart" }).click();
  await again.getByRole("heading", { name: "Your order" }).waitFor();
  await again.getByTestId("cart-line").filter({ hasText: "House Garden Salad" }).waitFor();
  const place = again.getByRole("button", { name: /^Place order/ });
  assert.equal(await place.isDisabled(), true, "no ordering offline");
  assert.equal(await place.evaluate((b) => document.getElementById(b.getAttribute("aria-describedby"))?.textContent), OFFLINE);
  await shot(again, "customer-pwa-2-offline-checkout");
  await a11y(again, "checkout, offline");

  // Back online: the banner goes, the hub prices the cart again, and the order can be placed.
  await context.setOffline(false);
  await again.getByTestId("offline-banner").waitFor({ state: "detached" });
  await again.getByTestId("totals").filter({ hasText: "Total" }).waitFor();
  await again.getByRole("button", { name: /^Place order — \$/ }).waitFor();
  assert.equal(await place.isDisabled(), false);
  await shot(again, "customer-pwa-3-online-again");

  assert.deepEqual(errors, []);
});
