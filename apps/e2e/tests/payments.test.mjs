// Card payments at the POS against a real store node and the simulated ZVT
// card terminal (`zvt-sim` on a pseudo terminal, registered through the API
// as a manager would): an approved card with its reference, a lost answer
// retried with the same Idempotency-Key, a declined card explained in plain
// words with cash still possible, and "Print receipt" without a printer.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launch, shot, signInPos, startNode, startZvtSim } from "../harness.mjs";

let node;
let browser;
let manager;
const sims = [];

before(async () => {
  node = await startNode();
  browser = await launch();
  const sim = await startZvtSim("approve");
  sims.push(sim);
  manager = await node.token("manager", "2000");
  await node.registerDevice(manager, {
    id: "t1",
    kind: "card_terminal",
    name: "Counter",
    transport: { type: "serial", path: sim.pty, baud: 9600 },
  });
});
after(async () => {
  await browser?.close();
  await node?.stop();
  for (const s of sims) await s.stop();
});

async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e));
  return page;
}

/** Rings up one portion of shoestring fries (no options) as a new order. */
async function ringUpFries(page) {
  await page.getByTestId("menu-search").fill("shoestring");
  await page.getByTestId("item-shoestring-fries").click();
  await page.getByTestId("cart").getByTestId("cart-line").waitFor();
}

/** "$4.87" -> 487 */
const cents = (text) => Math.round(Number(text.replace(/[^0-9.]/g, "")) * 100);

async function orderByTicket(ticket) {
  const r = await node.api(manager, "GET", "/api/v1/orders?limit=500");
  assert.equal(r.status, 200);
  const o = r.body.orders.find((x) => x.ticket === ticket);
  assert.ok(o, `order ${ticket} exists on the server`);
  return o;
}

/** Records the Idempotency-Key of every payment request; `hold` keeps the first one waiting until released. */
async function watchPayments(page, { hold = false, loseFirstAnswer = false } = {}) {
  const keys = [];
  let release = () => {};
  const held = new Promise((r) => (release = r));
  const arrived = [];
  await page.route("**/api/v1/orders/*/payments", async (route) => {
    keys.push(route.request().headers()["idempotency-key"]);
    arrived.shift()?.();
    const first = keys.length === 1;
    if (first && hold) await held;
    if (first && loseFirstAnswer) {
      // The request reaches the node (the customer pays), but the answer is lost on the way back.
      await route.fetch();
      await route.abort("connectionreset");
      return;
    }
    await route.continue();
  });
  return {
    keys,
    release,
    /** Resolves when the next payment request has left the page. */
    next: () => new Promise((r) => arrived.push(r)),
  };
}

test("a card payment: the till waits for the terminal, then shows the approval and its reference", async () => {
  const page = await newPage();
  await signInPos(page, node.base, "Casey Cashier", "3000");
  await ringUpFries(page);
  // The payment request is held at the page until the waiting screen has been checked.
  const payments = await watchPayments(page, { hold: true });
  const sent = payments.next();
  await page.getByTestId("pay-card").click();
  await sent;

  const dialog = page.getByRole("dialog", { name: /^Card · / });
  const waiting = dialog.getByTestId("card-waiting");
  await waiting.waitFor();
  assert.match(await waiting.innerText(), /Follow the terminal: ask the customer to tap or insert the card/);
  const amount = cents(await dialog.getByTestId("card-amount").innerText());
  assert.ok(amount > 0, "the amount is shown");
  // Nothing to press twice while the terminal works; Escape does not close it either.
  assert.equal(await dialog.locator("button:not([disabled])").count(), 0);
  await page.keyboard.press("Escape");
  assert.ok(await waiting.isVisible());
  await shot(page, "pos-card-waiting");

  payments.release();
  const approved = page.getByTestId("card-approved");
  await approved.waitFor({ timeout: 30_000 });
  const reference = (await page.getByTestId("card-reference").innerText()).trim();
  assert.match(reference, /^TID \d+ trace \d+ receipt \d+$/);
  const ticket = (await page.getByTestId("last-ticket").innerText()).trim();
  await shot(page, "pos-card-approved");

  // The terminal was asked once, for the order's total, and approved.
  const [, simAmount, , outcome] = await sims[0].nextPayment();
  assert.match(outcome, /^approved/);
  const order = await orderByTicket(ticket);
  assert.equal(cents(simAmount), order.totals.total);
  assert.equal(amount, order.totals.total);
  assert.equal(order.paid, order.totals.total);
  assert.equal(payments.keys.length, 1);

  // No receipt printer at this store: said plainly, inside the result screen.
  await page.getByTestId(`print-receipt-${ticket}`).click();
  await page.getByRole("dialog", { name: "Payment recorded" }).getByRole("alert").filter({ hasText: "No receipt printer is set up" }).waitFor();

  await page.getByTestId("new-order").click();
  await approved.waitFor({ state: "detached" });
  assert.equal(await page.getByTestId("cart").getByTestId("cart-line").count(), 0, "a new, empty order");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a card payment whose answer was lost is asked again with the same key and charged once", async () => {
  const page = await newPage();
  await signInPos(page, node.base, "Casey Cashier", "3000");
  await ringUpFries(page);
  const payments = await watchPayments(page, { loseFirstAnswer: true });
  await page.getByTestId("pay-card").click();

  const failed = page.getByTestId("card-failed");
  await failed.waitFor({ timeout: 30_000 });
  assert.equal((await page.getByTestId("card-outcome").innerText()).trim(), "No answer from the store server");
  assert.match(await page.getByTestId("card-message").innerText(), /never charges twice/);
  const [, , , outcome] = await sims[0].nextPayment();
  assert.match(outcome, /^approved/, "the customer did pay at the terminal");

  await page.getByTestId("card-retry").click();
  await page.getByTestId("card-approved").waitFor({ timeout: 30_000 });
  assert.equal(payments.keys.length, 2);
  assert.equal(payments.keys[0], payments.keys[1], "the retry sent the same Idempotency-Key");
  const ticket = (await page.getByTestId("last-ticket").innerText()).trim();
  const order = await orderByTicket(ticket);
  assert.equal(order.paid, order.totals.total, "paid once, not twice");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a declined card is explained in plain words, and cash still works", async () => {
  // The counter terminal is swapped for one that declines every card.
  const sim = await startZvtSim("decline");
  sims.push(sim);
  const moved = await node.api(manager, "PUT", "/api/v1/devices/t1", {
    name: "Counter",
    transport: { type: "serial", path: sim.pty, baud: 9600 },
  });
  assert.equal(moved.status, 200);

  const page = await newPage();
  await signInPos(page, node.base, "Casey Cashier", "3000");
  await ringUpFries(page);
  await page.getByTestId("pay-card").click();

  const failed = page.getByTestId("card-failed");
  await failed.waitFor({ timeout: 30_000 });
  assert.equal((await page.getByTestId("card-outcome").innerText()).trim(), "Card declined");
  assert.match(await page.getByTestId("card-message").innerText(), /The card was declined\. Ask for another card, or take cash\./);
  assert.ok(await page.getByTestId("card-retry").isEnabled(), "the cashier can try again");
  const [, , , outcome] = await sim.nextPayment();
  assert.match(outcome, /^declined/);
  await shot(page, "pos-card-declined");
  // The dialog keeps the keyboard: Tab and Shift+Tab cycle through its three buttons only.
  const dialog = page.getByRole("dialog", { name: /^Card · / });
  const focusedText = () => page.evaluate(() => (document.activeElement?.closest('[role="dialog"]') ? document.activeElement.textContent : null));
  assert.equal(await focusedText(), "Try again", "the next step has the focus");
  const seen = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("Tab");
    seen.push(await focusedText());
  }
  assert.deepEqual(seen, ["Back", "Take cash instead", "Try again", "Back"]);
  await page.keyboard.press("Shift+Tab");
  assert.equal(await focusedText(), "Try again");
  assert.ok(await dialog.isVisible());

  // Cash for the same order.
  await page.getByTestId("card-take-cash").click();
  const cash = page.getByRole("dialog", { name: /^Cash · / });
  await cash.getByRole("button", { name: /^Exact/ }).click();
  await cash.getByTestId("confirm-payment").click();
  await page.getByTestId("change-due").waitFor();
  assert.equal(cents(await page.getByTestId("change-due").innerText()), 0);
  const ticket = (await page.getByTestId("last-ticket").innerText()).trim();
  const order = await orderByTicket(ticket);
  assert.equal(order.paid, order.totals.total);
  assert.deepEqual(page.errors, []);
  await page.close();
});
