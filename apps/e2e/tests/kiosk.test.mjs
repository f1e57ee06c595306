// The self-order kiosk in a real browser against a real store node: staff
// setup, a full touch order (with modifier rules), a keyboard-only order, the
// inactivity reset, and a customer-friendly sold-out message.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launch, pinSignIn, shot, startNode } from "../harness.mjs";

const PORTRAIT = { width: 1080, height: 1920 };
const LANDSCAPE = { width: 1920, height: 1080 };

let node;
let browser;
let manager;
before(async () => {
  node = await startNode();
  browser = await launch();
  manager = await node.token("manager", "2000");
});
after(async () => {
  await browser?.close();
  await node?.stop();
});

/** A fresh browser profile (no kiosk session) with page errors collected. */
async function freshPage(viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  return { context, page, errors };
}

/** A browser profile whose kiosk was already set up (the session the setup screen would store). */
async function setUpPage(viewport, query = "") {
  const r = await fetch(`${node.base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ staff_id: "kiosk", pin: "5000" }),
  });
  assert.equal(r.status, 200);
  const { token, staff, expires_ms } = await r.json();
  const fresh = await freshPage(viewport);
  await fresh.context.addInitScript((s) => {
    if (!localStorage.getItem("edge.kiosk.session")) localStorage.setItem("edge.kiosk.session", s);
  }, JSON.stringify({ token, staff, expires_ms }));
  await fresh.page.goto(`${node.base}/kiosk/${query}`);
  await fresh.page.getByTestId("attract").waitFor();
  return fresh;
}

/** Presses Tab until the focused element matches `selector` (keyboard only; fails after `max` presses). */
async function tabTo(page, selector, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  assert.fail(`Tab never reached ${selector}`);
}

const focusedTestId = (page) => page.evaluate(() => document.activeElement?.getAttribute("data-testid"));

async function kioskOrder(ticket) {
  const r = await node.api(manager, "GET", "/api/v1/orders?channel=kiosk");
  assert.equal(r.status, 200);
  const order = r.body.orders.find((o) => o.ticket === ticket);
  assert.ok(order, `order ${ticket} is on the node`);
  return order;
}

test("setup, then a touch order with modifiers reaches the kitchen", async () => {
  const { context, page, errors } = await freshPage(PORTRAIT);
  await page.goto(`${node.base}/kiosk/`);

  // Staff setup: only the kiosk account is offered.
  await page.getByRole("heading", { name: "Kiosk setup — staff only" }).waitFor();
  const tiles = page.locator(".staff-tile");
  await tiles.first().waitFor();
  assert.deepEqual(await tiles.locator("strong").allTextContents(), ["Self-order kiosk"]);
  await pinSignIn(page, "Self-order kiosk", "5000");
  await page.getByTestId("attract").waitFor();
  await shot(page, "kiosk-attract");

  // The device stays signed in across a reload.
  await page.reload();
  await page.getByTestId("attract").waitFor();

  await page.getByTestId("start").click();
  await page.getByTestId("eat-here").click();
  await page.getByTestId("category-pizza").click();
  assert.equal(await page.getByTestId("item-autumn-harvest-pizza").isDisabled(), true, "sold-out item not selectable");
  await page.getByTestId("item-margherita-pizza").click();

  const dialog = page.getByRole("dialog", { name: "Margherita" });
  const add = dialog.locator(".modal-actions button.primary");
  await add.waitFor();
  assert.equal(await add.isDisabled(), true, "add disabled before size and crust");
  await dialog.getByTestId("group-pizza-size").getByRole("button", { name: /^12"/ }).click();
  assert.equal(await add.isDisabled(), true, "add still disabled without a crust");
  await dialog.getByTestId("group-pizza-crust").getByRole("button", { name: /^Thin/ }).click();
  assert.equal(await add.isDisabled(), false);
  assert.match(await add.textContent(), /^Add 1/);
  await shot(page, "kiosk-modifiers");
  await add.click();
  await dialog.waitFor({ state: "detached" });

  await page.getByTestId("category-drinks").click();
  await page.getByTestId("item-fountain-soda").click();
  const soda = page.getByRole("dialog", { name: "Fountain Soda" });
  await soda
    .getByTestId("group-drink-size")
    .getByRole("button", { name: /^Medium/ })
    .click();
  await soda.getByTestId("group-soda-choice").getByRole("button", { name: /^Cola/ }).click();
  await soda.locator(".modal-actions button.primary").click();
  await soda.waitFor({ state: "detached" });

  const cart = page.getByTestId("cart");
  await cart.getByTestId("line-fountain-soda").waitFor();
  assert.equal(await cart.locator("li.line").count(), 2);
  await page.getByTestId("announcer").filter({ hasText: "Added 1 Fountain Soda" }).waitFor();
  await page.getByTestId("category-pizza").click();
  await shot(page, "kiosk-menu");

  await page.getByTestId("checkout").click();
  await page.getByTestId("customer-name").fill("Ana");
  await page.getByTestId("pay-counter").click();
  await page.getByTestId("order-number").waitFor();
  const ticket = (await page.getByTestId("ticket").textContent()).trim();
  assert.match(ticket, /^S-\d{4}$/);
  await page.getByTestId("order-number").getByText("Please pay at the counter").waitFor();
  await shot(page, "kiosk-order-number");

  const order = await kioskOrder(ticket);
  assert.equal(order.channel, "kiosk");
  assert.equal(order.fulfillment, "dine_in");
  assert.equal(order.customer_name, "Ana");
  assert.equal(order.lines.length, 2);
  const pizza = order.lines.find((l) => l.item_id === "margherita-pizza");
  assert.deepEqual(pizza.modifiers.map((m) => m.id).sort(), ["pizza-crust-thin", "pizza-size-12in"]);
  assert.ok(order.lines.some((l) => l.item_id === "fountain-soda"));
  const shown = await page.getByTestId("order-total").textContent();
  assert.equal(shown, `$${(order.totals.total / 100).toFixed(2)}`, "the server's total is shown");

  await page.getByTestId("done").click();
  await page.getByTestId("attract").waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test("a whole order with the keyboard only", async () => {
  const { context, page, errors } = await setUpPage(LANDSCAPE);

  await tabTo(page, '[data-testid="start"]');
  await page.keyboard.press("Enter");
  await page.getByTestId("take-away").waitFor();
  await tabTo(page, '[data-testid="take-away"]');
  await page.keyboard.press("Enter");

  await page.getByTestId("cart").waitFor();
  await tabTo(page, '[data-testid="category-desserts"]');
  await page.keyboard.press("Enter");
  await page.getByTestId("item-key-lime-pie").waitFor();

  // Escape closes the dialog and gives focus back to the card.
  await tabTo(page, '[data-testid="item-key-lime-pie"]');
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Key Lime Pie" });
  await dialog.waitFor();
  assert.equal(await dialog.evaluate((d) => d.contains(document.activeElement)), true, "focus moves into the dialog");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await page.waitForFunction(() => document.activeElement?.getAttribute("data-testid") === "item-key-lime-pie");

  await page.keyboard.press("Enter");
  await dialog.waitFor();
  await tabTo(page, ".modal-actions button.primary");
  assert.match(await page.evaluate(() => document.activeElement.textContent), /^Add 1/);
  await page.keyboard.press("Enter");
  await dialog.waitFor({ state: "detached" });
  await page.getByTestId("announcer").filter({ hasText: "Added 1 Key Lime Pie" }).waitFor();
  await shot(page, "kiosk-menu-landscape");
  await page.waitForFunction(() => document.activeElement?.getAttribute("data-testid") === "item-key-lime-pie");

  await tabTo(page, '[data-testid="checkout"]');
  await page.keyboard.press("Enter");
  await page.getByTestId("pay-counter").waitFor();
  await tabTo(page, "#customer-name");
  await page.keyboard.type("Bo");
  await tabTo(page, '[data-testid="pay-counter"]');
  await page.keyboard.press("Enter");

  await page.getByTestId("order-number").waitFor();
  const ticket = (await page.getByTestId("ticket").textContent()).trim();
  const order = await kioskOrder(ticket);
  assert.equal(order.fulfillment, "takeaway");
  assert.equal(order.customer_name, "Bo");
  assert.deepEqual(
    order.lines.map((l) => [l.item_id, l.quantity]),
    [["key-lime-pie", 1]],
  );

  await tabTo(page, '[data-testid="done"]');
  await page.keyboard.press("Enter");
  await page.getByTestId("attract").waitFor();
  assert.equal(await focusedTestId(page), null);
  assert.deepEqual(errors, []);
  await context.close();
});

test("inactivity asks 'Are you still there?', then starts over with an empty cart", async () => {
  const { context, page, errors } = await setUpPage(PORTRAIT, "?idle=3");
  await page.getByTestId("start").click();
  await page.getByTestId("eat-here").click();
  await page.getByTestId("category-kids").click();
  await page.getByTestId("item-kids-milk").click();
  await page.getByRole("dialog", { name: "Kids Milk" }).locator(".modal-actions button.primary").click();
  await page.getByTestId("cart").getByTestId("line-kids-milk").waitFor();

  // "I'm still here" keeps the order.
  await page.getByTestId("still-there").waitFor({ timeout: 15_000 });
  await page.getByTestId("stay").click();
  await page.getByTestId("still-there").waitFor({ state: "detached" });
  assert.equal(await page.getByTestId("cart").locator("li.line").count(), 1);

  // Left alone, it counts down and starts over.
  await page.getByTestId("still-there").waitFor({ timeout: 15_000 });
  await page.getByTestId("attract").waitFor({ timeout: 20_000 });
  await page.getByTestId("start").click();
  await page.getByTestId("eat-here").click();
  await page.getByTestId("cart").getByText("Nothing here yet").waitFor();
  assert.equal(await page.getByTestId("cart").locator("li.line").count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test("an item that sells out during checkout is named in plain words", async () => {
  const { context, page, errors } = await setUpPage(LANDSCAPE);
  await page.getByTestId("start").click();
  await page.getByTestId("eat-here").click();
  await page.getByTestId("category-salads-sides").click();
  await page.getByTestId("item-garlic-knots").click();
  await page.getByRole("dialog", { name: "Garlic Knots" }).locator(".modal-actions button.primary").click();
  await page.getByTestId("checkout").click();

  const soldOut = await node.api(manager, "POST", "/api/v1/menu/items/garlic-knots/sold-out", { sold_out: true });
  assert.equal(soldOut.status, 200);
  try {
    await page.getByTestId("pay-counter").click();
    const alert = page.getByRole("alert");
    await alert.filter({ hasText: "Sorry, Garlic Knots just sold out" }).waitFor();
    assert.doesNotMatch(await alert.textContent(), /sold_out|garlic-knots|line 0/);
    await page.getByTestId("line-garlic-knots").getByText("Sold out — please remove").waitFor();
    assert.equal(await page.getByTestId("pay-counter").isDisabled(), true);
    await shot(page, "kiosk-checkout-sold-out");
  } finally {
    await node.api(manager, "POST", "/api/v1/menu/items/garlic-knots/sold-out", { sold_out: false });
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test("a lost answer is retried with the same Idempotency-Key, so the order is placed once", async () => {
  const { context, page, errors } = await setUpPage(PORTRAIT);
  await page.getByTestId("start").click();
  await page.getByTestId("take-away").click();
  await page.getByTestId("category-kids").click();
  await page.getByTestId("item-kids-milk").click();
  await page.getByRole("dialog", { name: "Kids Milk" }).locator(".modal-actions button.primary").click();
  await page.getByTestId("checkout").click();
  await page.getByTestId("customer-name").fill("Retry Rita");

  // The first attempt reaches the node, but its answer is lost on the way back.
  const keys = [];
  await page.route("**/api/v1/orders", async (route) => {
    keys.push(route.request().headers()["idempotency-key"]);
    if (keys.length === 1) {
      await route.fetch();
      await route.abort("connectionreset");
    } else await route.continue();
  });
  await page.getByTestId("pay-counter").click();
  await page.getByRole("alert").filter({ hasText: "can't reach the kitchen" }).waitFor();
  await page.getByTestId("pay-counter").click();
  await page.getByTestId("order-number").waitFor();

  assert.equal(keys.length, 2);
  assert.ok(keys[0]);
  assert.equal(keys[1], keys[0], "the retry reuses the key");
  const ticket = (await page.getByTestId("ticket").textContent()).trim();
  const all = await node.api(manager, "GET", "/api/v1/orders?channel=kiosk");
  const mine = all.body.orders.filter((o) => o.customer_name === "Retry Rita");
  assert.deepEqual(
    mine.map((o) => o.ticket),
    [ticket],
    "exactly one order",
  );
  assert.deepEqual(errors, []);
  await context.close();
});
