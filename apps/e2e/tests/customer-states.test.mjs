// The customer app when the store changes under a cart, in a real browser at
// phone size, against a real hub and a real store node syncing with it: an
// item sold out at the store while it is in the cart (flagged, placing refused
// naming it, removing it lets the order through), and the store's node going
// away (the hub pauses online ordering after its grace period, here 1 s: the
// store page says so, checkout refuses in words) and coming back on the same
// data (the store opens again).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { addItem, orderAtNode, phonePage, publicMenu, signUpAtCheckout, STORE, startShop, until } from "../customer.mjs";
import { a11y, launch, shot } from "../harness.mjs";

let shop;
let browser;
const nodeData = mkdtempSync(join(tmpdir(), "e2e-node-states-"));
before(async () => {
  shop = await startShop({ hubOptions: { args: ["--node-grace-secs", "1"] }, nodeOptions: { dataDir: nodeData } });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await shop?.node.stop();
  await shop?.hub.stop();
  rmSync(nodeData, { recursive: true, force: true });
});

async function soldOutAtNode(itemId, soldOut) {
  const manager = await shop.node.token("manager", "2000");
  const r = await shop.node.api(manager, "POST", `/api/v1/menu/items/${itemId}/sold-out`, { sold_out: soldOut }, randomUUID());
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await until(
    async () => (await publicMenu(shop.hub)).menu.items.find((i) => i.id === itemId).sold_out === soldOut,
    `the hub's menu to show ${itemId} ${soldOut ? "sold out" : "available"}`,
  );
}

test("an item sold out at the store while in the cart: flagged, refused by name, and removing it lets the order through", async () => {
  const { context, page } = await phonePage(browser);
  await page.goto(`${shop.hub.base}/stores/${STORE}`);
  await addItem(page, "garlic-knots", "Garlic Knots");
  await addItem(page, "shoestring-fries", "Shoestring Fries");
  await page.getByRole("link", { name: "View cart" }).click();
  await signUpAtCheckout(page, "Alex");
  await page.getByLabel(/Pay at the counter/).check();
  const place = page.getByRole("button", { name: /^Place order/ });
  await page.getByTestId("totals").waitFor();
  assert.equal(await place.isDisabled(), false);

  // The kitchen runs out while the customer looks at the cart.
  await soldOutAtNode("garlic-knots", true);
  try {
    // Placing from the page as it was: the hub refuses, naming the item; the page then flags the line.
    await place.click();
    await page.getByTestId("cannot-order").filter({ hasText: "Sorry, Garlic Knots just sold out." }).waitFor();
    const knots = page.getByTestId("cart-line").filter({ hasText: "Garlic Knots" });
    await knots.getByTestId("sold-out").filter({ hasText: "Sold out now: remove it to place your order" }).waitFor();
    assert.equal(await place.isDisabled(), true);
    assert.equal(await page.getByText("garlic-knots").count(), 0, "no ids on screen");
    await place.scrollIntoViewIfNeeded();
    await shot(page, "states-1-sold-out-refused");

    // Opened afresh, the line is flagged straight away.
    await page.reload();
    await knots.getByTestId("sold-out").waitFor();
    await page.getByTestId("cannot-order").filter({ hasText: "Garlic Knots sold out: remove it to place your order." }).waitFor();
    assert.equal(await place.isDisabled(), true);
    await shot(page, "states-2-sold-out-in-cart");
    await a11y(page, "checkout with a sold-out line");

    // Removing it: the rest goes through.
    await knots.getByRole("button", { name: "Remove" }).click();
    await knots.waitFor({ state: "detached" });
    await page.getByTestId("cannot-order").waitFor({ state: "detached" });
    await page.getByLabel(/Pay at the counter/).check();
    await page.getByRole("button", { name: /^Place order — \$/ }).click();
    await page.waitForURL(/\/orders\/[^/?]+$/);
    await page.getByTestId("order-status").filter({ hasText: /^Sent to the store$/ }).waitFor();
    const orderId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    const atNode = await orderAtNode(shop.node, orderId);
    assert.deepEqual(
      atNode.lines.map((l) => l.item_id),
      ["shoestring-fries"],
    );
  } finally {
    await soldOutAtNode("garlic-knots", false);
  }
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the store's node goes away: ordering pauses in words, checkout refuses; the node comes back and the store opens", async () => {
  const { context, page } = await phonePage(browser);
  await page.goto(`${shop.hub.base}/stores/${STORE}`);
  await page.getByTestId("store-state").filter({ hasText: "Open now" }).waitFor();
  await addItem(page, "garlic-knots", "Garlic Knots");
  await page.getByRole("link", { name: "View cart" }).click();
  await signUpAtCheckout(page, "Jo");
  await page.getByLabel(/Pay at the counter/).check();
  const place = page.getByRole("button", { name: /^Place order/ });
  await page.getByTestId("totals").waitFor();
  assert.equal(await place.isDisabled(), false);

  // The node stops (power cut, network gone); after the 1 s grace the hub pauses online ordering.
  await shop.node.stop();
  const paused = await until(async () => {
    const o = (await publicMenu(shop.hub)).ordering;
    return !o.accepting && o;
  }, "the hub to pause the store's online ordering", 15_000);
  assert.equal(paused.reason, "store_offline");

  // The checkout page was open from before: placing gets the hub's refusal in words, then the button stays off.
  await place.click();
  await page.getByTestId("cannot-order").filter({ hasText: paused.message }).waitFor();
  // Off once the page has read the store again after the refusal.
  await place.and(page.locator(":disabled")).waitFor();
  assert.equal(await page.getByText("store_offline").count(), 0, "no codes on screen");
  await place.scrollIntoViewIfNeeded();
  await shot(page, "states-3-paused-checkout");
  await a11y(page, "checkout while the store is paused");

  // The store page says it too.
  await page.getByRole("link", { name: /Back to the menu/ }).click();
  await page.getByTestId("store-state").filter({ hasText: paused.message }).waitFor();
  await shot(page, "states-4-paused-store");
  await a11y(page, "store page while paused");

  // The node comes back on the same data: the store opens again, and the cart is still there.
  await shop.startNodeAgain();
  await until(async () => (await publicMenu(shop.hub)).ordering.accepting, "the store to take online orders again", 20_000);
  await page.reload();
  await page.getByTestId("store-state").filter({ hasText: "Open now" }).waitFor();
  await page.getByTestId("cart-summary").filter({ hasText: /1 item/ }).waitFor();
  await page.getByRole("link", { name: "View cart" }).click();
  await page.getByLabel(/Pay at the counter/).check();
  await page.getByRole("button", { name: /^Place order — \$/ }).click();
  await page.waitForURL(/\/orders\/[^/?]+$/);
  await page.getByTestId("order-status").filter({ hasText: /^Sent to the store$/ }).waitFor();
  const orderId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
  await orderAtNode(shop.node, orderId);
  assert.deepEqual(page.errors, []);
  await context.close();
});
