// What the customer-app browser tests share: a hub and a syncing store node
// set up as one shop, a phone-sized page, the customer's steps (add an item,
// sign up at checkout) and a bounded wait for server state.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startHub, startNode, syncEnv } from "./harness.mjs";

export const PHONE = { width: 390, height: 844 };
export const STORE = "harbor-street";
export const STORE_NAME = "Harbor Street Kitchen";

/**
 * Polls `check` every 100 ms until it returns something truthy (which it
 * returns), or fails after `ms` naming `what`. For server state that has no
 * event to wait for; the deadline bounds it.
 */
export async function until(check, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((ok) => setTimeout(ok, 100)); // polling interval, bounded by the deadline above
  }
}

/** The hub's public menu of the store (with `ordering`). */
export async function publicMenu(hub) {
  const r = await fetch(`${hub.base}/api/v1/public/stores/${STORE}/menu`);
  assert.equal(r.status, 200, `public menu: ${r.status}`);
  return r.json();
}

/**
 * A hub (`hubOptions` for `startHub`) with the demo store enrolled and a demo
 * node syncing with it (`nodeOptions` for `startNode`), resolved once the hub
 * takes online orders for the store. `startNodeAgain()` starts a node with the
 * same settings (and data dir, when one was given) after `node.stop()`.
 */
export async function startShop({ hubOptions = {}, nodeOptions = {} } = {}) {
  const hub = await startHub(hubOptions);
  const token = await hub.enroll(STORE, STORE_NAME);
  const nodeSettings = { ...nodeOptions, env: { ...syncEnv(hub.base, STORE, token), ...(nodeOptions.env ?? {}) } };
  const shop = {
    hub,
    node: await startNode(nodeSettings),
    async startNodeAgain() {
      shop.node = await startNode(nodeSettings);
      return shop.node;
    },
  };
  await until(async () => (await publicMenu(hub)).ordering.accepting, "the store to take online orders at the hub");
  return shop;
}

/** A new phone-sized browser context and page; `page.errors` collects uncaught page errors. */
export async function phonePage(browser) {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e));
  return { context, page };
}

/** On the store page: opens the item's sheet and adds it as it is (items without required choices). */
export async function addItem(page, itemId, name) {
  await page.getByTestId(`item-${itemId}`).click();
  const sheet = page.getByRole("dialog", { name });
  await sheet.getByRole("button", { name: /^Add/ }).click();
  await sheet.waitFor({ state: "detached" });
}

/** On the checkout page: creates an account for a new customer; the email. */
export async function signUpAtCheckout(page, name = "Robin") {
  const email = `${name.toLowerCase()}-${randomUUID().slice(0, 8)}@example.com`;
  await page.getByLabel(/Your name/).fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel(/^Password/).fill("plum-kettle-73-orbit");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText(`Signed in as ${email}`).waitFor();
  return email;
}

/** Calls the hub as the customer signed in on `page` (its access token, from the page's storage). */
export async function asCustomer(page, hub, path) {
  const access = await page.evaluate(() => JSON.parse(localStorage.getItem("edge.customer.account") ?? "null")?.access);
  assert.ok(access, "the page is signed in");
  const r = await fetch(`${hub.base}${path}`, { headers: { authorization: `Bearer ${access}` } });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
}

/** Waits until the order is at the node (as the kitchen sees it); its view there. */
export async function orderAtNode(node, orderId) {
  const kitchen = await node.token("kitchen", "4000");
  return until(async () => {
    const r = await node.api(kitchen, "GET", `/api/v1/orders/${orderId}`);
    return r.status === 200 && r.body;
  }, `order ${orderId} to reach the node`);
}
