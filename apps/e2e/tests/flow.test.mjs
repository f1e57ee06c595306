// The whole counter-to-kitchen loop across two screens, as staff would do it:
// a cashier signs in at the POS, builds an order with modifiers and pays cash;
// the ticket appears on the kitchen display; the cook bumps it; the POS shows
// it ready. Nothing is set up through the API.
import assert from "node:assert/strict";
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

test("POS order with modifiers, cash, KDS bump, POS sees it ready", async () => {
  const pos = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const kds = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const pageErrors = [];
  for (const p of [pos, kds]) p.on("pageerror", (e) => pageErrors.push(e));

  await kds.goto(`${node.base}/kds/`);
  await pinSignIn(kds, "Kim Kitchen", "4000");
  await kds.getByTestId("station-all").click();
  await kds.locator('[data-testid="link-status"][data-status="live"]').waitFor();

  await pos.goto(`${node.base}/pos/`);
  await pinSignIn(pos, "Casey Cashier", "3000");
  await pos.getByTestId("menu-search").fill("classic");
  await pos.getByTestId("item-harbor-classic-burger").click();
  const dialog = pos.getByRole("dialog");
  await dialog.getByTestId("group-burger-doneness").getByRole("button", { name: "Medium", exact: true }).click();
  await dialog.getByRole("button", { name: "Brioche Bun" }).click();
  await dialog.getByRole("button", { name: /Applewood Bacon/ }).click();
  await dialog.getByRole("button", { name: /^Add/ }).click();
  await pos.getByTestId("cart-line").first().waitFor();

  await pos.getByTestId("pay-cash").click();
  await pos.getByTestId("tendered").fill("50.00");
  const paidAt = Date.now();
  await pos.getByTestId("confirm-payment").click();
  const ticket = (await pos.getByTestId("last-ticket").textContent()).match(/[SW]-\d{4}/)[0];
  await pos.getByTestId("change-due").waitFor();
  await shot(pos, "flow-pos-paid");

  // The kitchen sees the ticket, live.
  await kds.getByTestId(`ticket-${ticket}`).waitFor({ timeout: 5000 });
  console.log(`# KDS showed ${ticket} ${Date.now() - paidAt} ms after the cashier confirmed the payment`);
  await shot(kds, "flow-kds-ticket");
  const orders = (await node.api(await node.token("manager", "2000"), "GET", "/api/v1/orders")).body.orders;
  const order = orders.find((o) => o.ticket === ticket);
  assert.equal(order.paid, order.totals.total, "the order is paid in full");
  assert.deepEqual(order.lines[0].modifiers.map((m) => m.id).sort(), ["burger-addons-bacon", "burger-bun-brioche", "burger-doneness-medium"]);

  // The cook bumps it from expo; the POS shows it ready without a reload.
  await kds.getByTestId(`bump-${ticket}`).click();
  await kds.getByTestId(`ticket-${ticket}`).waitFor({ state: "detached" });
  const posStatus = pos.getByTestId(`status-${ticket}`);
  await posStatus.filter({ hasText: "ready" }).waitFor();
  await shot(pos, "flow-pos-ready");
  assert.deepEqual(pageErrors, []);
});
