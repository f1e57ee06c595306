// Menu pictures in a real browser: the merchant dashboard at a real cloud hub,
// a real store node syncing with it. The owner is told in words why a file
// that is not a picture, or is too large, cannot be used; uploads a small PNG
// for the fries, sees its thumbnail and saves the menu. The customer app at
// the hub shows the picture on the menu; the kiosk at the node shows it, and
// still does after the hub is stopped (the node fetched its own copy).
// Screenshots and axe-core on each screen.
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { after, before, test } from "node:test";
import { a11y, launch, shot, startHub, startNode, syncEnv } from "../harness.mjs";
import { LAPTOP, nodeToken, orgStore, ownedOrg, signIn, takingOrders, until } from "../dashboard.mjs";

const KIOSK = { width: 1080, height: 1920 };
const STORE = "pier-street";
const OWNER = { email: "pia.owner@example.com", password: "owner-password-123", name: "Pia Owner" };

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
/** A small real PNG: golden fries on a red carton, `size` pixels square (about 1 KB). */
function friesPng(size = 160) {
  const rows = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 3);
    for (let x = 0; x < size; x++) {
      const carton = y > size * 0.55 && Math.abs(x - size / 2) < size * 0.32 - (y - size * 0.55) * 0.15;
      const fry = y > size * 0.12 && y <= size * 0.55 && Math.abs(x - size / 2) < size * 0.3 && Math.floor(x / (size / 16)) % 2 === 0;
      const [r, g, b] = carton ? [200, 40, 30] : fry ? [245, 190, 60] : [255, 244, 225];
      row[1 + x * 3] = r;
      row[2 + x * 3] = g;
      row[3 + x * 3] = b;
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Whether the `<img>` matched by `locator` has loaded a picture (not a broken image). */
async function loaded(locator) {
  return locator.evaluate((img) => img.complete && img.naturalWidth > 0);
}

let hub;
let node;
let browser;
let manager;
before(async () => {
  hub = await startHub();
  const orgId = await ownedOrg(hub, "Pier Street Eats", OWNER);
  await orgStore(hub, orgId, STORE, "Pier Street Kitchen");
  const token = await nodeToken(hub, STORE);
  node = await startNode({ env: syncEnv(hub.base, STORE, token) });
  browser = await launch();
  manager = await node.token("manager", "2000");
  // The node syncs its menu up and the hub sees it connected.
  await takingOrders(hub, STORE);
});
after(async () => {
  await browser?.close();
  await node?.stop();
  await hub?.stop();
});

test("an owner gives the fries a picture: the customer app and the kiosk show it, the kiosk also offline", async () => {
  const context = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));

  // Sign in and open the menu.
  await signIn(page, hub.base, OWNER);
  await page.getByRole("link", { name: "Menu" }).click();
  await page.getByRole("heading", { name: "Salads & Sides" }).waitFor();
  const fries = page.locator('[data-item="shoestring-fries"]');
  await fries.getByText("No picture").waitFor();
  const choose = page.getByLabel("Choose a picture for Shoestring Fries");

  // Files that cannot be pictures are refused in words, before anything is sent.
  await choose.setInputFiles({ name: "menu.txt", mimeType: "text/plain", buffer: Buffer.from("fries, 4.50") });
  await fries.getByRole("alert").filter({ hasText: "Only JPEG, PNG or WebP pictures" }).waitFor();
  const huge = Buffer.concat([friesPng(), Buffer.alloc(Math.round(5.2 * 1024 * 1024))]);
  await choose.setInputFiles({ name: "huge.png", mimeType: "image/png", buffer: huge });
  await fries.getByRole("alert").filter({ hasText: "That file is 5.2 MB; pictures can be up to 2 MB" }).waitFor();
  await fries.scrollIntoViewIfNeeded();
  await shot(page, "dashboard-pictures-1-refused");
  await a11y(page, "the menu with a refused picture");

  // A small PNG: uploaded, its thumbnail shown; Save menu puts it on the menu.
  const png = friesPng();
  await choose.setInputFiles({ name: "fries.png", mimeType: "image/png", buffer: png });
  const thumb = fries.getByRole("img", { name: "Picture of Shoestring Fries" });
  await thumb.waitFor();
  await until("the thumbnail to load", () => loaded(thumb));
  assert.equal(await fries.getByRole("alert").count(), 0, "the earlier refusal is gone");
  const url = await thumb.getAttribute("src");
  assert.match(url, /^\/api\/v1\/public\/images\/[0-9a-f]{64}\.png$/);
  await page.getByRole("status").filter({ hasText: "Save menu to show it" }).waitFor();
  await fries.getByText("New picture: on the menu once you save it.").waitFor();
  await fries.scrollIntoViewIfNeeded();
  await shot(page, "dashboard-pictures-2-uploaded");
  await page.getByRole("button", { name: "Save menu" }).click();
  await page.getByRole("status").filter({ hasText: "Menu saved" }).waitFor();
  await fries.getByRole("button", { name: "Remove the picture of Shoestring Fries" }).waitFor();
  assert.equal(await fries.getByText("New picture").count(), 0, "saved: no longer new");
  await fries.scrollIntoViewIfNeeded();
  await shot(page, "dashboard-pictures-3-saved");
  await a11y(page, "the menu with a picture");
  // The hub serves the very bytes.
  const served = await fetch(`${hub.base}${url}`);
  assert.equal(served.status, 200);
  assert.equal(served.headers.get("content-type"), "image/png");
  assert.deepEqual(Buffer.from(await served.arrayBuffer()), png);

  // The customer app at the hub shows it on the menu.
  const customer = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1 });
  const shop = await customer.newPage();
  shop.on("pageerror", (e) => errors.push(e));
  await shop.goto(`${hub.base}/stores/${STORE}`);
  await shop.getByRole("heading", { name: "Salads & Sides" }).waitFor();
  const onMenu = shop.getByTestId("item-shoestring-fries").locator("img");
  await onMenu.waitFor();
  assert.equal(await onMenu.getAttribute("src"), url);
  await onMenu.scrollIntoViewIfNeeded(); // the menu's pictures load lazily, when seen
  await until("the customer menu's picture to load", () => loaded(onMenu));
  await shot(shop, "dashboard-pictures-4-customer-menu");
  await a11y(shop, "the customer menu with a picture");
  await customer.close();

  // The kiosk at the node shows it once the node has fetched it from the hub.
  await until("the node to serve the picture", async () => (await fetch(`${node.base}${url}`)).status === 200);
  const login = await fetch(`${node.base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ staff_id: "kiosk", pin: "5000" }),
  });
  assert.equal(login.status, 200);
  const { token, staff, expires_ms } = await login.json();
  const kioskContext = await browser.newContext({ viewport: KIOSK });
  await kioskContext.addInitScript((s) => {
    if (!localStorage.getItem("edge.kiosk.session")) localStorage.setItem("edge.kiosk.session", s);
  }, JSON.stringify({ token, staff, expires_ms }));
  const kiosk = await kioskContext.newPage();
  kiosk.on("pageerror", (e) => errors.push(e));
  const showFries = async () => {
    await kiosk.goto(`${node.base}/kiosk/`);
    await kiosk.getByTestId("attract").waitFor();
    await kiosk.getByTestId("start").click();
    await kiosk.getByTestId("take-away").click();
    await kiosk.getByTestId("category-salads-sides").click();
    const pic = kiosk.getByTestId("item-shoestring-fries").locator("img");
    await pic.waitFor();
    assert.equal(await pic.getAttribute("src"), url);
    await until("the kiosk's picture to load", () => loaded(pic));
    return pic;
  };
  await showFries();
  await shot(kiosk, "dashboard-pictures-5-kiosk");
  await a11y(kiosk, "the kiosk menu with a picture");

  // The hub stops: the kiosk, reloaded without its browser cache, still shows the picture from the node.
  await hub.stop();
  hub = null;
  assert.equal((await fetch(`${node.base}/api/v1/sync/status`, { headers: { authorization: `Bearer ${manager}` } })).status, 200);
  await until("the node to see the hub gone", async () => {
    const r = await fetch(`${node.base}/api/v1/sync/status`, { headers: { authorization: `Bearer ${manager}` } });
    return (await r.json()).connected === false;
  });
  const cdp = await kioskContext.newCDPSession(kiosk);
  await cdp.send("Network.enable");
  await cdp.send("Network.clearBrowserCache");
  await showFries();
  await shot(kiosk, "dashboard-pictures-6-kiosk-offline");
  await a11y(kiosk, "the kiosk menu with the hub down");
  await kioskContext.close();
  await context.close();
  assert.deepEqual(errors, []);
});
