// Paying a web order by card in a real browser at phone size: a real hub with
// card payments pointed at our fake of Stripe (`crates/fake-stripe`, its
// hosted payment page and signed webhooks), and a real store node syncing with
// the hub. A declined card, leaving the payment page, paying the same order
// again from its page, the "confirming" state while the webhook is on its way,
// and exactly one charge; and a payment page that expires, then "Order again".
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addItem, asCustomer, orderAtNode, phonePage, signUpAtCheckout, STORE, startShop, until } from "../customer.mjs";
import { a11y, launch, shot, startFakeStripe } from "../harness.mjs";

let stripe;
let shop;
let browser;
before(async () => {
  stripe = await startFakeStripe();
  shop = await startShop({ hubOptions: { stripe } });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await shop?.node.stop();
  await shop?.hub.stop();
  await stripe?.stop();
});

/** Waits until the fake has delivered an Event of `type` to the hub (and the hub took it). */
async function delivered(type) {
  await until(async () => (await stripe.deliveries()).some((d) => d.event_type === type && d.outcome === "delivered"), `${type} delivered to the hub`);
}

/** From the store page: one item in the cart, to checkout, signed up, paying by card, placed; on the payment page. */
async function orderByCard(page, { signUp = true } = {}) {
  const hub = shop.hub;
  await page.goto(`${hub.base}/stores/${STORE}`);
  await addItem(page, "shoestring-fries", "Shoestring Fries");
  await page.getByRole("link", { name: "View cart" }).click();
  await page.getByRole("heading", { name: "Your order" }).waitFor();
  if (signUp) await signUpAtCheckout(page, "Sam");
  await page.getByLabel(/Pay now by card/).check();
  await page.getByRole("button", { name: /^Place order — \$/ }).click();
  await page.waitForURL(`${stripe.base}/checkout/**`);
  await page.getByRole("heading", { name: "Checkout" }).waitFor();
  return new URL(page.url()).pathname.split("/").pop();
}

test("a declined card, leaving the payment page, then paying the same order: one order, one charge", async () => {
  const { context, page } = await phonePage(browser);
  await orderByCard(page);
  await shot(page, "card-1-payment-page");

  // A declining card: the fake's page says so and keeps the customer there, as Stripe does.
  await page.getByRole("button", { name: "Pay with a declining card" }).click();
  await page.getByRole("alert").filter({ hasText: "Your card was declined." }).waitFor();
  await shot(page, "card-2-declined");
  await delivered("payment_intent.payment_failed");

  // Leaving: back at the order's page, which says nothing was charged and why the card failed.
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.waitForURL(/\/orders\/[^/?]+\?payment=cancelled$/);
  const orderId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
  await page.getByTestId("order-status").filter({ hasText: /^Waiting for your payment$/ }).waitFor();
  const notice = page.getByTestId("payment-notice");
  await notice.filter({ hasText: "You left the payment page before paying." }).waitFor();
  assert.match(await notice.innerText(), /Nothing was charged/);
  assert.match(await notice.innerText(), /declined/);
  assert.equal(await page.getByTestId("ticket").count(), 0, "no pickup number before it is paid");
  await shot(page, "card-3-cancelled");
  await a11y(page, "order page after leaving the payment page");
  assert.equal((await asCustomer(page, shop.hub, "/api/v1/me/orders")).orders.length, 1);

  // This time the processor is slow to say so: its webhook comes late and the hub
  // cannot read the checkout when the customer is back (which it does when asked
  // for an unpaid order). Back from paying, the page says the payment is being confirmed.
  await stripe.control("faults", {
    webhook: { delay_ms: 8000 },
    api: [{ method: "GET", path_prefix: "/v1/checkout/sessions", times: 50, status: 503 }],
  });
  await page.getByRole("link", { name: "Pay now" }).click();
  await page.waitForURL(`${stripe.base}/checkout/**`);
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await page.waitForURL(/\/orders\/[^/?]+\?payment=paid$/);
  assert.equal(decodeURIComponent(new URL(page.url()).pathname.split("/").pop()), orderId, "the same order");
  await page.getByTestId("order-status").filter({ hasText: /^Confirming your payment$/ }).waitFor();
  assert.match(await page.getByTestId("payment-notice").innerText(), /confirming your payment/);
  assert.equal(await page.getByText("Waiting for your payment").count(), 0);
  await shot(page, "card-4-confirming");
  await fetch(`${stripe.base}/_fake/faults`, { method: "DELETE" }); // the delayed webhook is already on its way

  // The webhook arrives: the order goes to the store, with its number, live on the page.
  await page.getByTestId("order-status").filter({ hasText: /^Sent to the store$/ }).waitFor({ timeout: 20_000 });
  const ticket = (await page.getByTestId("ticket").innerText()).trim();
  assert.match(ticket, /^W-\d+$/);
  assert.equal(await page.getByTestId("payment-notice").count(), 0, "nothing about the payment left to say");
  assert.match(await page.locator("main").innerText(), /paid by card/);
  await shot(page, "card-5-paid");
  await a11y(page, "order page, paid");

  const atNode = await orderAtNode(shop.node, orderId);
  assert.equal(atNode.channel, "online");
  assert.equal(atNode.ticket, ticket);

  // Exactly one charge: one payment at the fake for this order, authorised for the total; one order.
  const mine = (await stripe.ledger()).filter((p) => p.metadata?.order_id === orderId);
  assert.equal(mine.length, 1, JSON.stringify(mine));
  assert.ok(["requires_capture", "succeeded"].includes(mine[0].status), JSON.stringify(mine[0]));
  const order = await asCustomer(page, shop.hub, `/api/v1/me/orders/${encodeURIComponent(orderId)}`);
  assert.equal(mine[0].authorised, order.totals.total);
  const orders = (await asCustomer(page, shop.hub, "/api/v1/me/orders")).orders;
  assert.deepEqual(
    orders.map((o) => o.id),
    [orderId],
  );
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a payment page that expires: 'Payment not finished', and Order again puts the lines back", async () => {
  const { context, page } = await phonePage(browser);
  const session = await orderByCard(page);
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.waitForURL(/\/orders\/[^/?]+\?payment=cancelled$/);
  await page.getByRole("link", { name: "Pay now" }).waitFor();
  await page.getByTestId("live").filter({ hasText: "Updates live" }).waitFor();

  // The payment page expires (Stripe does after a while): the page follows live.
  await stripe.control(`checkout/${session}/expire`);
  await page.getByTestId("order-status").filter({ hasText: /^Payment not finished$/ }).waitFor({ timeout: 20_000 });
  const notice = page.getByTestId("payment-notice");
  await notice.filter({ hasText: "expired" }).waitFor();
  assert.match(await notice.innerText(), /Nothing was charged/);
  assert.equal(await page.getByRole("link", { name: "Pay now" }).count(), 0);
  await shot(page, "card-6-expired");
  await a11y(page, "order page, payment not finished");

  await page.getByRole("button", { name: "Order again" }).click();
  await page.waitForURL(new RegExp(`/stores/${STORE}$`));
  await page.getByTestId("cart-summary").filter({ hasText: /1 item · \$\d+\.\d\d/ }).waitFor();
  assert.deepEqual(page.errors, []);
  await context.close();
});
