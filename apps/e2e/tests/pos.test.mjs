// The POS till in a real browser against a real store node: a cashier rings up
// a burger and a soda and takes cash, a cashier's discount approved by a
// manager's PIN, and the open-orders panel following another till live.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { launch, pinSignIn, shot, startNode } from "../harness.mjs";

let node;
let browser;
before(async () => {
  node = await startNode();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await node?.stop();
});

/** A new tablet-sized page that records uncaught page errors. */
async function newPage(width = 1280, height = 800) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e));
  return page;
}

/** Signs in through the UI: staff tile, then the PIN on the pad. */
async function signIn(page, name, pin) {
  await page.goto(`${node.base}/pos/`);
  await page.getByRole("heading", { name: "POS — sign in" }).waitFor();
  await pinSignIn(page, name, pin);
  await page.getByTestId("signed-in").filter({ hasText: name }).waitFor();
  // The event stream is up before anything else happens.
  await page.locator('[data-testid="link-status"][data-status="live"]').waitFor();
}

/** "$40.27" -> 4027 */
const cents = (text) => Math.round(Number(text.replace(/[^0-9.]/g, "")) * 100);

async function orderByTicket(token, ticket) {
  const r = await node.api(token, "GET", "/api/v1/orders?limit=500");
  assert.equal(r.status, 200);
  const o = r.body.orders.find((x) => x.ticket === ticket);
  assert.ok(o, `order ${ticket} exists on the server`);
  return o;
}

test("a cashier rings up a burger and a soda and takes cash", async () => {
  const page = await newPage();
  await signIn(page, "Casey Cashier", "3000");
  await page.getByTestId("sync-status").filter({ hasText: "Hub: not set up (works offline)" }).waitFor();
  await page.getByRole("button", { name: "Devices and printing: none set up" }).waitFor();

  // Search filters by name across categories.
  await page.getByTestId("menu-search").fill("burger");
  await page.getByTestId("item-harbor-classic-burger").waitFor();
  await page.getByTestId("item-kids-cheeseburger").waitFor();
  assert.equal(await page.getByTestId("item-fountain-soda").count(), 0);

  // Sold-out items are shown but refused.
  await page.getByTestId("category-pizza").click();
  const soldOut = page.getByTestId("item-autumn-harvest-pizza");
  assert.ok(await soldOut.isDisabled());
  assert.match(await soldOut.innerText(), /Sold out/);

  await page.getByTestId("menu-search").fill("burger");
  await page.getByTestId("item-harbor-classic-burger").click();
  const dialog = page.getByRole("dialog", { name: "Harbor Classic Burger" });
  const add = dialog.locator(".modal-actions button.primary");
  assert.ok(await add.isDisabled(), "Add is disabled before doneness and bun are chosen");
  await dialog.getByTestId("group-burger-doneness").getByRole("button", { name: "Medium", exact: true }).click();
  assert.ok(await add.isDisabled(), "Add is still disabled without a bun");
  await dialog.getByTestId("group-burger-bun").getByRole("button", { name: "Brioche Bun", exact: true }).click();
  await dialog.getByTestId("group-burger-addons").getByRole("button", { name: /Bacon/ }).click();
  assert.ok(await add.isEnabled());
  assert.match(await add.innerText(), /^Add/);
  await shot(page, "pos-modifiers");
  await add.click();
  await dialog.waitFor({ state: "detached" });

  await page.getByTestId("menu-search").fill("");
  await page.getByTestId("category-drinks").click();
  await page.getByTestId("item-fountain-soda").click();
  const soda = page.getByRole("dialog", { name: "Fountain Soda" });
  await soda.getByTestId("group-drink-size").getByRole("button", { name: /^Large/ }).click();
  await soda.getByTestId("group-soda-choice").getByRole("button", { name: "Cola", exact: true }).click();
  await soda.locator(".modal-actions button.primary").click();
  await soda.waitFor({ state: "detached" });

  const lines = page.getByTestId("cart").getByTestId("cart-line");
  await lines.nth(1).waitFor();
  assert.equal(await lines.count(), 2);
  const burger = await lines.nth(0).innerText();
  for (const word of ["Harbor Classic Burger", "Medium", "Brioche Bun", "Applewood Bacon"]) assert.ok(burger.includes(word), `${word} in ${burger}`);
  // (1195 + 200 bacon) + (295 + 100 large) = 17.90 before tax, labelled as an estimate.
  const est = await page.getByTestId("estimate").innerText();
  assert.match(est, /Estimate/);
  assert.equal(cents(est.split("\n").pop()), 1790);
  await page.getByTestId("table").fill("7");
  await shot(page, "pos-menu");

  await page.getByTestId("pay-cash").click();
  await page.getByTestId("tendered").fill("50.00");
  await page.getByTestId("confirm-payment").click();
  const change = page.getByTestId("change-due");
  await change.waitFor();
  const ticket = (await page.getByTestId("last-ticket").innerText()).trim();
  await shot(page, "pos-change-due");

  const token = await node.token("cashier", "3000");
  const order = await orderByTicket(token, ticket);
  assert.equal(cents(await change.innerText()), 5000 - order.totals.total);
  assert.equal(order.paid, order.totals.total);
  assert.equal(order.table, "7");
  assert.equal(order.lines.length, 2);

  // Dismissed to a new, empty order.
  await page.getByTestId("new-order").click();
  await change.waitFor({ state: "detached" });
  assert.equal(await lines.count(), 0);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a cashier's 10% discount is approved with the manager's PIN", async () => {
  const page = await newPage();
  const approvals = [];
  page.on("request", (r) => {
    const h = r.headers()["x-manager-approval"];
    if (h) approvals.push(h);
  });
  await signIn(page, "Casey Cashier", "3000");
  await page.getByTestId("menu-search").fill("fries");
  await page.getByTestId("item-shoestring-fries").click();
  await page.getByTestId("item-sweet-potato-fries").click();
  await page.getByTestId("cart").getByTestId("cart-line").nth(1).waitFor();
  await page.getByTestId("fulfillment-takeaway").click();
  await page.getByTestId("customer-name").fill("Robin");

  await page.getByTestId("discount").click();
  await page.getByTestId("discount-percent").click();
  await page.getByTestId("discount-value").fill("10");
  await page.getByTestId("discount-reason").fill("Staff meal");
  await page.getByTestId("discount-next").click();
  await page.getByRole("button", { name: /Marco Manager/ }).click();
  for (const d of "2000") await page.getByRole("button", { name: `digit ${d}`, exact: true }).click();
  await page.getByRole("button", { name: "OK", exact: true }).click();
  await page.getByText("OK’d by Marco Manager").waitFor();

  await page.getByTestId("send").click();
  const notice = page.getByRole("status").filter({ hasText: "sent to the kitchen" });
  await notice.waitFor();
  const ticket = /S-\d+/.exec(await notice.innerText())[0];
  assert.equal(await page.getByTestId("cart").getByTestId("cart-line").count(), 0, "the cart is cleared");

  const token = await node.token("cashier", "3000");
  const order = await orderByTicket(token, ticket);
  assert.ok(order.totals.discount > 0, "a discount was taken off");
  assert.equal(order.totals.discount, 100); // 10 % of 4.50 + 5.50
  assert.equal(order.discount.approved_by, "manager");
  assert.equal(order.discount.kind, "percent");
  assert.equal(order.customer_name, "Robin");
  assert.equal(order.paid, 0);

  // The manager's approval token was sent once and signed out afterwards.
  assert.equal(approvals.length, 1);
  const deadline = Date.now() + 5000;
  let me;
  do me = await node.api(approvals[0], "GET", "/api/v1/auth/me");
  while (me.status !== 401 && Date.now() < deadline);
  assert.equal(me.status, 401, "the approval token no longer works");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("orders from another till show up live and follow the kitchen", async () => {
  const page = await newPage();
  await signIn(page, "Casey Cashier", "3000");
  const panel = page.getByTestId("open-orders");
  await panel.waitFor();

  const owner = await node.token("owner", "1000");
  const placed = await node.api(
    owner,
    "POST",
    "/api/v1/orders",
    {
      channel: "pos",
      fulfillment: "takeaway",
      customer_name: "Dana",
      lines: [{ item_id: "margherita-pizza", quantity: 2, modifiers: ["pizza-size-12in", "pizza-crust-thin"] }],
    },
    randomUUID(),
  );
  assert.equal(placed.status, 201);
  const { ticket, id } = placed.body;

  // Beside the menu it shows in the compact rail; the full panel has the row actions.
  const row = panel.getByTestId(`order-${ticket}`);
  await row.waitFor();
  const status = page.getByTestId(`status-${ticket}`);
  assert.equal((await status.innerText()).trim(), "placed");
  await page.getByTestId("show-open-orders").click();
  await panel.getByRole("heading", { name: "Open orders" }).waitFor();
  assert.match(await row.innerText(), /unpaid/);
  // A cashier sees Void but may not use it.
  const voidButton = row.getByRole("button", { name: /Void/ });
  assert.ok(await voidButton.isDisabled());
  assert.match(await voidButton.innerText(), /manager only/);

  const ready = await node.api(owner, "POST", `/api/v1/orders/${id}/ready`);
  assert.equal(ready.status, 200);
  await status.filter({ hasText: /^ready$/ }).waitFor();
  await shot(page, "pos-open-orders");
  await page.setViewportSize({ width: 1920, height: 1080 });
  await shot(page, "pos-wide");

  // Unpaid: cash or card, no receipt yet. Complete takes the order off the panel.
  await row.getByTestId(`card-${ticket}`).waitFor();
  assert.equal(await row.getByRole("button", { name: "Print receipt" }).count(), 0);
  await page.getByTestId(`complete-${ticket}`).click();
  await row.waitFor({ state: "detached" });
  const token = await node.token("cashier", "3000");
  assert.equal((await orderByTicket(token, ticket)).status, "completed");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a retry after a lost answer reuses the idempotency key and places one order", async () => {
  const page = await newPage();
  await signIn(page, "Casey Cashier", "3000");
  const keys = [];
  let dropped = false;
  // The first order reaches the server, but its answer is lost on the way back.
  await page.route("**/api/v1/orders", async (route) => {
    if (route.request().method() !== "POST") return route.continue();
    keys.push(route.request().headers()["idempotency-key"]);
    if (dropped) return route.continue();
    dropped = true;
    await route.fetch();
    await route.abort("connectionreset");
  });
  await page.getByTestId("category-desserts").click();
  await page.getByTestId("item-key-lime-pie").click();
  await page.getByTestId("cart").getByTestId("cart-line").waitFor();
  await page.getByTestId("send").click();
  await page.getByRole("alert").filter({ hasText: "Can't reach the store server" }).waitFor();
  assert.equal(await page.getByTestId("cart").getByTestId("cart-line").count(), 1, "the cart is kept for the retry");

  await page.getByTestId("send").click();
  const notice = page.getByRole("status").filter({ hasText: "sent to the kitchen" });
  await notice.waitFor();
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1], "the retry sent the same Idempotency-Key");

  const token = await node.token("cashier", "3000");
  const r = await node.api(token, "GET", "/api/v1/orders?limit=500");
  const pies = r.body.orders.filter((o) => o.lines.some((l) => l.item_id === "key-lime-pie"));
  assert.equal(pies.length, 1, "exactly one order was placed");
  assert.ok((await notice.innerText()).includes(pies[0].ticket));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a session that ends sends the till back to sign-in", async () => {
  const page = await newPage();
  await signIn(page, "Casey Cashier", "3000");
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem("edge.pos.session")));
  await page.getByTestId("category-desserts").click();
  await page.getByTestId("item-ny-cheesecake").click();
  // A line in the cart first: an empty cart sends nothing, so no 401 would come back.
  await page.getByTestId("cart").getByTestId("cart-line").waitFor();
  assert.equal((await node.api(session.token, "POST", "/api/v1/auth/logout")).status, 204);
  // The till learns of the end from whichever call comes first: its own refresh of the
  // order list may beat the Send below, in which case Send is already gone.
  const signInHeading = page.getByRole("heading", { name: "POS — sign in" });
  await Promise.race([
    signInHeading.waitFor(),
    page.getByTestId("send").click({ timeout: 10_000 }).catch(() => {}),
  ]);
  await signInHeading.waitFor();
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a menu change reaches the till without a reload", async () => {
  const page = await newPage();
  await signIn(page, "Olivia Owner", "1000");
  await page.getByTestId("category-desserts").click();
  const cookie = page.getByTestId("item-skillet-cookie");
  assert.ok(await cookie.isEnabled());
  const owner = await node.token("owner", "1000");
  const path = "/api/v1/menu/items/skillet-cookie/sold-out";
  assert.equal((await node.api(owner, "POST", path, { sold_out: true })).status, 200);
  try {
    await page.locator('[data-testid="item-skillet-cookie"][disabled]').filter({ hasText: "Sold out" }).waitFor();
  } finally {
    await node.api(owner, "POST", path, { sold_out: false });
  }
  await page.locator('[data-testid="item-skillet-cookie"]:not([disabled])').waitFor();
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("cash is confirmed before the order is placed, and a paid order is cancelled only with a manager's PIN", async () => {
  const page = await newPage();
  const approvals = [];
  page.on("request", (r) => {
    const h = r.headers()["x-manager-approval"];
    if (h) approvals.push(h);
  });
  await signIn(page, "Casey Cashier", "3000");
  const token = await node.token("cashier", "3000");
  const count = async () => (await node.api(token, "GET", "/api/v1/orders?limit=500")).body.orders.length;
  const before = await count();

  await page.getByTestId("menu-search").fill("fries");
  await page.getByTestId("item-shoestring-fries").click();
  await page.getByTestId("cart").getByTestId("cart-line").first().waitFor();
  await page.getByTestId("pay-cash").click();
  const cash = page.getByRole("dialog", { name: "Cash · new order" });
  await cash.waitFor();
  // The exact amount due (tax included) is known, but nothing is placed or fired yet.
  assert.ok(cents(await cash.getByTestId("amount-due").innerText()) > 450);
  assert.equal(await count(), before, "no order before the cash is confirmed");
  await shot(page, "pos-cash-before-placing");
  await cash.getByRole("button", { name: /^Exact/ }).click();
  await cash.getByTestId("confirm-payment").click();
  await page.getByTestId("change-due").waitFor();
  const ticket = (await page.getByTestId("last-ticket").innerText()).trim();
  assert.equal(await count(), before + 1);
  await page.getByTestId("new-order").click();

  // Cancel it from Open orders (the full panel has the row actions): the money goes back, so a manager approves.
  await page.getByTestId("show-open-orders").click();
  const row = page.getByTestId("open-orders").getByTestId(`order-${ticket}`);
  await row.getByRole("button", { name: "Cancel", exact: true }).click();
  const ask = page.getByRole("dialog", { name: `Cancel order ${ticket}?` });
  await ask.getByTestId("refund-note").waitFor();
  await shot(page, "pos-cancel-paid");
  await ask.getByTestId("confirm-cancel").click();
  const approve = page.getByRole("dialog", { name: `Manager approval: cancel ${ticket}` });
  await approve.getByRole("button", { name: /Marco Manager/ }).click();
  await shot(page, "pos-cancel-approval");
  for (const d of "2000") await approve.getByRole("button", { name: `digit ${d}`, exact: true }).click();
  await approve.getByRole("button", { name: "OK", exact: true }).click();
  await approve.waitFor({ state: "detached" });

  const order = await orderByTicket(token, ticket);
  assert.equal(order.status, "cancelled");
  assert.equal(order.refunded, order.paid);
  assert.equal(approvals.length, 1, "the approval went with the cancel once");
  assert.deepEqual(page.errors, []);
  await page.close();
});
