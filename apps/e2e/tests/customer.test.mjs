// The customer ordering app in a real browser at phone size, against a real
// cloud hub serving it and a real store node syncing with that hub: find the
// store, build a cart with modifiers, sign up at checkout, place a pay-at-pickup
// order; it reaches the node, its kitchen ticket prints on the station's
// printer (a virtual ESC/POS printer) and shows on the kitchen display, the
// kitchen moves it along there (the last step a bump on the display), and the
// customer's page says "Ready" without a reload. Every screen is checked with
// axe-core (WCAG 2 A/AA, serious and critical fail), the item sheet is used
// with the keyboard alone, and the menu and checkout reflow at 200 % zoom.
import assert from "node:assert/strict";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { a11y, launch, pinSignIn, screenshots, shot, startHub, startNode, startVirtualPrinter, syncEnv } from "../harness.mjs";

const PHONE = { width: 390, height: 844 };
const STORE = "harbor-street";
/** A 1280×800 screen at 200 % zoom: the CSS viewport WCAG 1.4.10 (reflow) asks to work without sideways scrolling. */
const ZOOM_200 = { width: 640, height: 400 };

/** True while `locator` has the keyboard focus. */
const focused = (locator) => locator.evaluate((el) => el === document.activeElement);

/** Presses Tab (Shift+Tab with `back`) until `locator` has the focus; fails after `max` presses. */
async function tabTo(page, locator, { back = false, max = 40 } = {}) {
  for (let i = 0; i < max; i++) {
    if (await focused(locator)) return;
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
  }
  assert.fail(`${max} presses of Tab never reached ${locator}`);
}

/** At 200 % zoom the page scrolls only up and down: nothing sticks out sideways. */
async function reflows(page, screen) {
  await page.setViewportSize(ZOOM_200);
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
  assert.ok(scroll <= inner, `${screen} at 200 % zoom scrolls sideways: ${scroll} px of content in ${inner} px`);
  await shot(page, `${screen}-zoom-200`);
  await page.setViewportSize(PHONE);
}

let hub;
let node;
let browser;
let printer;
before(async () => {
  hub = await startHub();
  const token = await hub.enroll(STORE, "Harbor Street Kitchen");
  node = await startNode({ env: syncEnv(hub.base, STORE, token) });
  browser = await launch();
  // The pizza station's kitchen printer (salads are made there in the demo menu).
  printer = await startVirtualPrinter("pizza");
  const manager = await node.token("manager", "2000");
  await node.registerDevice(manager, { id: "pizza-printer", kind: "kitchen_printer", name: "Pizza oven printer", station: "pizza", transport: printer.transport });
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
  await browser?.close();
  await node?.stop();
  await hub?.stop();
  await printer?.stop();
});

test("find the store, order with modifiers, sign up at checkout, and see Ready live", async () => {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));

  // Find a store.
  await page.goto(`${hub.base}/`);
  await page.getByRole("heading", { name: "Find a store" }).waitFor();
  const card = page.getByRole("link", { name: /Harbor Street Kitchen/ });
  await card.getByText("Open now").waitFor();
  await shot(page, "customer-1-stores");
  await a11y(page, "the store list");

  // The store's menu, by category, with prices in money.
  await card.click();
  await page.getByRole("heading", { name: "Harbor Street Kitchen" }).waitFor();
  await page.getByRole("heading", { name: "Salads & Sides" }).waitFor();
  assert.match(await page.getByTestId("item-house-garden-salad").innerText(), /House Garden Salad[\s\S]*\$9\.50/);
  await shot(page, "customer-2-menu");
  await a11y(page, "the menu");
  await reflows(page, "customer-menu");

  // The item sheet, with the keyboard alone: Enter opens it with the focus inside, Escape closes it and
  // the focus is back on the item; then the required dressing first, an optional protein, two of them, a note.
  const salad = page.getByTestId("item-house-garden-salad");
  await tabTo(page, salad);
  assert.equal(await salad.evaluate((el) => getComputedStyle(el).outlineStyle), "solid", "the focused item shows a focus ring");
  await page.keyboard.press("Enter");
  const sheet = page.getByRole("dialog", { name: "House Garden Salad" });
  await sheet.waitFor();
  assert.equal(await sheet.evaluate((el) => el.contains(document.activeElement)), true, "the focus moved into the sheet");
  await page.keyboard.press("Escape");
  await sheet.waitFor({ state: "detached" });
  assert.equal(await focused(salad), true, "Escape gives the focus back to the item");
  await page.keyboard.press("Enter");
  await sheet.waitFor();
  const add = sheet.getByRole("button", { name: /^Choose Dressing|^Add/ });
  assert.equal(await add.isDisabled(), true, "Add waits for the required dressing");
  await tabTo(page, sheet.getByRole("button", { name: /Buttermilk Ranch/ }));
  await page.keyboard.press("Space");
  await tabTo(page, sheet.getByRole("button", { name: /Grilled Chicken/ }));
  await page.keyboard.press("Enter");
  await tabTo(page, sheet.getByRole("button", { name: "one more" }));
  await page.keyboard.press("Enter");
  await tabTo(page, sheet.getByLabel("Note for the kitchen"));
  await page.keyboard.type("no croutons");
  assert.equal(await add.isDisabled(), false);
  await sheet.evaluate((el) => el.scrollTo(0, 0));
  await shot(page, "customer-3-item");
  await a11y(page, "the item sheet");
  await tabTo(page, add);
  await page.keyboard.press("Enter");
  await sheet.waitFor({ state: "detached" });
  assert.equal(await focused(salad), true, "adding gives the focus back to the item");

  // The cart bar has the hub's total; the cart is kept across a reload.
  await page.getByTestId("cart-summary").filter({ hasText: /2 items · \$\d+\.\d\d/ }).waitFor();
  await page.reload();
  await page.getByTestId("cart-summary").filter({ hasText: /2 items · \$\d+\.\d\d/ }).waitFor();
  await page.getByRole("link", { name: "View cart" }).click();
  await page.getByRole("heading", { name: "Your order" }).waitFor();
  const line = page.getByTestId("cart-line");
  await line.filter({ hasText: "Buttermilk Ranch, Grilled Chicken" }).waitFor();
  await page.getByTestId("totals").filter({ hasText: "Total" }).waitFor();
  await shot(page, "customer-4-cart");
  await a11y(page, "checkout, signed out, with the sign-up form");
  await reflows(page, "customer-checkout");

  // The kitchen display at the node, open before the order comes in.
  const kds = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  kds.on("pageerror", (e) => errors.push(e));
  await kds.goto(`${node.base}/kds/`);
  await kds.getByRole("heading", { name: "Kitchen display — sign in" }).waitFor();
  await pinSignIn(kds, "Kim Kitchen", "4000");
  await kds.getByTestId("station-pizza").click();
  await kds.getByTestId("link-status").and(kds.locator('[data-status="live"]')).waitFor();

  // Sign up right at checkout, then place it, paying at pickup.
  await page.getByLabel(/Your name/).fill("Robin");
  await page.getByLabel("Email").fill("robin@example.com");
  await page.getByLabel(/^Password/).fill("plum-kettle-73-orbit");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText("Signed in as robin@example.com").waitFor();
  await page.getByLabel(/Pay at the counter/).check();
  await a11y(page, "checkout, signed in");
  await page.getByRole("button", { name: /^Place order — \$/ }).click();
  await page.waitForURL(/\/orders\/[^/]+$/);
  const orderId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
  const ticket = await page.getByTestId("ticket").innerText();
  assert.match(ticket, /^W-\d+$/);
  await page.getByTestId("order-status").filter({ hasText: "Sent to the store" }).waitFor();
  await page.getByTestId("live").filter({ hasText: "Updates live" }).waitFor();
  await a11y(page, "the order page");

  // The order reaches the node as an online order with the web ticket.
  const kitchen = await node.token("kitchen", "4000");
  const deadline = Date.now() + 15_000;
  let atNode;
  for (;;) {
    atNode = await node.api(kitchen, "GET", `/api/v1/orders/${orderId}`);
    if (atNode.status === 200) break;
    if (Date.now() > deadline) assert.fail(`the order never reached the node: ${JSON.stringify(atNode.body)}`);
    await new Promise((ok) => setTimeout(ok, 100)); // polling interval, bounded by the deadline above
  }
  assert.equal(atNode.body.channel, "online");
  assert.equal(atNode.body.ticket, ticket);
  assert.equal(atNode.body.status, "placed");

  // Its kitchen ticket prints at the pizza station: the web number, the item, the choices and the note.
  const printed = await printer.nextPrint(15_000);
  const paper = readFileSync(printed.png.replace(/\.png$/, ".txt"), "utf8");
  assert.match(paper, new RegExp(ticket));
  assert.match(paper, /House Garden Salad/);
  assert.match(paper, /Buttermilk Ranch/);
  assert.match(paper, /no croutons/);
  copyFileSync(printed.png, join(screenshots, "customer-kitchen-ticket.png"));

  // And it shows on the kitchen display, with its lines.
  const kdsTicket = kds.getByTestId(`ticket-${ticket}`);
  await kdsTicket.waitFor({ timeout: 15_000 });
  assert.match(await kdsTicket.innerText(), /House Garden Salad/);
  await shot(kds, "customer-kitchen-kds");

  // The kitchen moves it along at the node; the page follows without a reload.
  await page.evaluate(() => ((window).__samePage = true));
  for (const [step, want, words] of [
    ["accept", "accepted", "Accepted"],
    ["start", "in_preparation", "Being prepared"],
  ]) {
    const r = await node.api(kitchen, "POST", `/api/v1/orders/${orderId}/${step}`, undefined, `${orderId}-${step}`);
    assert.equal(r.status, 200, `${step}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.status, want);
    await page.getByTestId("order-status").filter({ hasText: new RegExp(`^${words}$`) }).waitFor({ timeout: 15_000 });
  }
  // The last step on the display: its only station bumps it, so it is ready.
  await kds.getByTestId(`bump-${ticket}`).click();
  await kdsTicket.waitFor({ state: "detached", timeout: 15_000 });
  await page.getByTestId("order-status").filter({ hasText: /^Ready$/ }).waitFor({ timeout: 15_000 });
  await kds.close();
  assert.equal(await page.evaluate(() => (window).__samePage), true, "no reload happened");
  assert.equal(await page.getByText("in_preparation").count(), 0, "no status codes on screen");
  await shot(page, "customer-5-ready");

  // A reload keeps the account and the order (the hub serves the app for /orders/{id}).
  await page.reload();
  await page.getByTestId("order-status").filter({ hasText: /^Ready$/ }).waitFor();
  await page.getByRole("link", { name: "All my orders" }).click();
  await page.getByRole("link", { name: new RegExp(ticket) }).filter({ hasText: "Ready" }).waitFor();
  await a11y(page, "my orders");

  // Reorder from the history: the same lines, choices and note in the cart, priced by the hub again.
  await page.getByRole("link", { name: new RegExp(ticket) }).click();
  await page.getByTestId("reorder").click();
  await page.getByTestId("cart-summary").filter({ hasText: /2 items · \$\d+\.\d\d/ }).waitFor();
  await page.getByRole("link", { name: "View cart" }).click();
  await page.getByTestId("cart-line").filter({ hasText: "Buttermilk Ranch, Grilled Chicken" }).filter({ hasText: "no croutons" }).waitFor();

  // Unknown API paths stay JSON 404s; unknown app paths get the app.
  const api404 = await fetch(`${hub.base}/api/v1/no-such-route`);
  assert.equal(api404.status, 404);
  assert.equal((await api404.json()).error.code, "not_found");
  const appPath = await fetch(`${hub.base}/orders/whatever`);
  assert.equal(appPath.status, 200);
  assert.match(await appPath.text(), /<div id="root">/);

  assert.deepEqual(errors, []);
  await context.close();
});
