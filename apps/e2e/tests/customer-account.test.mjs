// The customer's account and ordering ahead, in a real browser at phone size
// against a real hub and a real store node syncing with it: details, a saved
// note and a favourite kept at the hub; at checkout the saved note and a pickup
// time from the store's offer; the order page says when to come, and the
// store's kitchen display shows the pickup time on the ticket.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { a11y, launch, pinSignIn, shot, startHub, startNode, syncEnv } from "../harness.mjs";

const PHONE = { width: 390, height: 844 };
const STORE = "harbor-street";

let hub;
let node;
let browser;

/** Polls `check` until it returns something truthy, or fails after `timeout` ms. */
async function until(check, what, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 100)); // polling interval, bounded by the deadline above
  }
}

before(async () => {
  hub = await startHub();
  const token = await hub.enroll(STORE, "Harbor Street Kitchen");
  node = await startNode({ env: syncEnv(hub.base, STORE, token) });
  browser = await launch();
  await until(async () => {
    const r = await fetch(`${hub.base}/api/v1/public/stores/${STORE}/menu`);
    return r.ok && (await r.json()).ordering.accepting;
  }, "the store to take online orders");
  // Orders take 20 minutes; open all day, so the offer does not depend on when the test runs.
  const allDay = [{ open: "00:00", close: "24:00" }];
  const hours = Object.fromEntries(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((d) => [d, allDay]));
  const s = await hub.admin("PUT", `/api/v1/stores/${STORE}/settings`, { pickup_lead_minutes: 20, hours, timezone: "UTC" });
  assert.equal(s.status, 200, JSON.stringify(s.body));
});
after(async () => {
  await browser?.close();
  await node?.stop();
  await hub?.stop();
});

test("an account keeps details, notes and favourites; an order ahead shows its pickup time to the customer and the kitchen", async () => {
  const context = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, timezoneId: "UTC" });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));

  // Sign up from the account page, then keep a phone number and a note.
  await page.goto(`${hub.base}/account`);
  await page.getByLabel(/Your name/).fill("Sam");
  await page.getByLabel("Email").fill("sam@example.com");
  await page.getByLabel(/^Password/).fill("plum-kettle-73-orbit");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText("Signed in as sam@example.com").waitFor();
  await page.getByLabel(/^Phone/).fill("+1 555 0100");
  await page.getByRole("button", { name: "Save details" }).click();
  await page.getByText("Your details are saved.").waitFor();
  await page.getByLabel("New note").fill("no onions, please");
  await page.getByRole("button", { name: "Save note" }).click();
  await page.getByText("Note saved.").waitFor();
  // A bad phone number is refused in words, and nothing else changes.
  await page.getByLabel(/^Phone/).fill("call me maybe");
  await page.getByRole("button", { name: "Save details" }).click();
  await page.getByRole("alert").filter({ hasText: /phone/i }).waitFor();
  await page.reload();
  await page.getByText("no onions, please").waitFor();
  assert.equal(await page.getByLabel(/^Phone/).inputValue(), "+1 555 0100");
  await shot(page, "customer-account");
  await a11y(page, "account page");

  // A favourite from the menu: it shows first on the menu and on the account page.
  await page.goto(`${hub.base}/stores/${STORE}`);
  const fav = page.getByRole("button", { name: "Favourite: Shoestring Fries" }).first();
  await fav.click();
  await page.getByRole("heading", { name: "Your favourites" }).waitFor();
  await page.getByTestId("fav-item-shoestring-fries").waitFor();
  await shot(page, "customer-favourites");
  await a11y(page, "menu with favourites");

  // Order from the favourites, ahead: the saved note in one tap, a pickup time from the offer.
  await page.getByTestId("fav-item-shoestring-fries").click();
  const sheet = page.getByRole("dialog", { name: "Shoestring Fries" });
  await sheet.getByRole("button", { name: /^Add/ }).click();
  await sheet.waitFor({ state: "detached" });
  await page.getByRole("link", { name: "View cart" }).click();
  await page.getByRole("heading", { name: "Pickup and payment" }).waitFor();
  const picker = page.getByLabel("Pickup time");
  // The times on offer arrive from the hub after the page: wait for them, then read the first.
  await picker.locator("option", { hasText: /^As soon as possible \(about/ }).waitFor({ state: "attached" });
  assert.match(await picker.locator("option").first().innerText(), /As soon as possible \(about 20 minutes\)/);
  const offered = await picker.locator("option").evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent })));
  assert.ok(offered.length >= 40, `quarter hours for 12 hours: ${offered.length}`);
  const chosen = offered[3];
  assert.match(chosen.text, /^(Tomorrow )?\d\d:\d\d$/);
  await picker.selectOption(chosen.value);
  await page.getByRole("group", { name: "Your saved notes" }).getByRole("button", { name: "no onions, please" }).click();
  assert.equal(await page.getByLabel(/Note for the kitchen/).inputValue(), "no onions, please");
  await shot(page, "customer-pickup-time");
  await a11y(page, "checkout with a pickup time");
  await page.getByLabel(/Pay at the counter/).check();
  await page.getByRole("button", { name: /^Place order — \$/ }).click();
  await page.waitForURL(/\/orders\/[^/]+$/);
  const orderId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
  const hhmm = chosen.text.slice(-5);
  await page.getByTestId("pickup").filter({ hasText: new RegExp(`Pickup (\\w+ )?at ${hhmm}`) }).waitFor();
  await shot(page, "customer-order-ahead");
  await a11y(page, "order placed ahead");

  // At the node: the order carries the pickup time, and the kitchen display shows it.
  const kitchen = await node.token("kitchen", "4000");
  const atNode = await until(async () => {
    const r = await node.api(kitchen, "GET", `/api/v1/orders/${orderId}`);
    return r.status === 200 && r.body;
  }, "the order at the node");
  assert.equal(atNode.pickup_at, Number(chosen.value));
  assert.equal(atNode.note, "no onions, please");
  const kds = await browser.newPage({ viewport: { width: 1280, height: 800 }, timezoneId: "UTC" });
  await kds.goto(`${node.base}/kds/`);
  await pinSignIn(kds, "Kim Kitchen", "4000");
  await kds.getByTestId("station-all").click();
  const ticket = kds.getByTestId(`ticket-${atNode.ticket}`);
  await ticket.getByTestId("pickup-at").filter({ hasText: `Pickup ${hhmm}` }).waitFor();
  await shot(kds, "kds-order-ahead");
  await kds.close();

  assert.deepEqual(errors, []);
  await context.close();
});
