// Printing from the POS against a real store node and virtual ESC/POS
// printers (`virtual-printer` on TCP, registered through the API as a
// manager would): the receipt that prints when cash is taken, "Print
// receipt" copies, and the Devices & printing panel: a kitchen printer that
// cannot be reached, its ticket in the dead-letter list (a cashier sees it,
// a manager sends it to the receipt printer), and a printer out of paper.
// The node retries prints every 50 ms here, so a job gives up within a second.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { closedPort, launch, screenshots, shot, signInPos, startNode, startVirtualPrinter } from "../harness.mjs";

let node;
let browser;
let manager;
let receipt;
const printers = [];

before(async () => {
  node = await startNode({ env: { STORE_NODE__PRINT__RETRY_BASE_MS: "50" } });
  browser = await launch();
  receipt = await startVirtualPrinter("receipt");
  printers.push(receipt);
  manager = await node.token("manager", "2000");
  await node.registerDevice(manager, { id: "receipt", kind: "receipt_printer", name: "Front receipt", transport: receipt.transport });
});
after(async () => {
  await browser?.close();
  await node?.stop();
  for (const p of printers) await p.stop();
});

async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e));
  return page;
}

/** Keeps a printed page where people can look at it. */
function keep(printed, name) {
  assert.ok(printed.png, "the virtual printer saved a picture of the paper");
  copyFileSync(printed.png, join(screenshots, `${name}.png`));
}

test("taking cash prints the receipt, and Print receipt prints copies", async () => {
  const page = await newPage();
  await signInPos(page, node.base, "Casey Cashier", "3000");
  await page.getByTestId("category-desserts").click();
  await page.getByTestId("item-key-lime-pie").click();
  await page.getByTestId("cart").getByTestId("cart-line").waitFor();
  await page.getByTestId("pay-cash").click();
  await page.getByTestId("tendered").fill("20.00");
  await page.getByTestId("confirm-payment").click();
  await page.getByTestId("change-due").waitFor();
  const ticket = (await page.getByTestId("last-ticket").innerText()).trim();

  // The drawer opens, then the receipt prints.
  const first = await receipt.nextPrint();
  keep(first, "printed-receipt");
  assert.ok(receipt.lines.some((l) => /drawer kick/.test(l)), "the cash drawer was kicked");

  // A copy from the result screen.
  await page.getByTestId(`print-receipt-${ticket}`).click();
  await page.getByTestId("toast").filter({ hasText: "Receipt sent to the printer" }).waitFor();
  const copy = await receipt.nextPrint();
  assert.ok(copy.number > first.number);
  keep(copy, "printed-receipt-copy");

  // And from the open-orders list, where the paid order waits for the kitchen.
  await page.getByTestId("new-order").click();
  await page.getByTestId("show-open-orders").click();
  const row = page.getByTestId("open-orders").getByTestId(`order-${ticket}`);
  await row.getByTestId(`paid-${ticket}`).filter({ hasText: "paid" }).waitFor();
  assert.equal(await row.getByRole("button", { name: /Take cash/ }).count(), 0);
  await row.getByRole("button", { name: "Print receipt" }).click();
  const again = await receipt.nextPrint();
  assert.ok(again.number > copy.number);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a ticket that cannot print waits in the dead-letter list until a manager sends it to another printer", async () => {
  // The grill printer's port has nothing listening; the bar printer is out of paper.
  await node.registerDevice(manager, {
    id: "grill",
    kind: "kitchen_printer",
    name: "Grill printer",
    station: "grill",
    transport: { type: "tcp", host: "127.0.0.1", port: await closedPort() },
  });
  const bar = await startVirtualPrinter("bar", { flags: ["--paper-out"] });
  printers.push(bar);
  await node.registerDevice(manager, { id: "bar", kind: "kitchen_printer", name: "Bar printer", station: "bar", transport: bar.transport });

  const boss = await newPage();
  await signInPos(boss, node.base, "Marco Manager", "2000");
  const cashier = await newPage();
  await signInPos(cashier, node.base, "Casey Cashier", "3000");

  const placed = await node.api(
    manager,
    "POST",
    "/api/v1/orders",
    {
      channel: "pos",
      fulfillment: "dine_in",
      table: "4",
      lines: [{ item_id: "harbor-classic-burger", quantity: 1, modifiers: ["burger-doneness-medium", "burger-bun-brioche"] }],
    },
    randomUUID(),
  );
  assert.equal(placed.status, 201);
  const { ticket } = placed.body;

  // The header badge follows the notices live: the unreachable printer and its failed ticket.
  await boss.locator('[data-testid="devices-button"]:not([data-problems="0"])').waitFor({ timeout: 15_000 });
  await boss.getByTestId("devices-badge").waitFor();

  // A cashier sees the failed job, but not the manager's buttons.
  await cashier.getByTestId("devices-button").click();
  const cashierPanel = cashier.getByRole("dialog", { name: "Devices & printing" });
  const cashierRow = cashierPanel.locator('[data-testid^="dead-job-"]').filter({ hasText: `Kitchen ticket ${ticket} (grill)` });
  await cashierRow.waitFor({ timeout: 15_000 });
  assert.equal(await cashierRow.getByRole("button").count(), 0);
  await cashierPanel.getByText("A manager can print these again").waitFor();

  await boss.getByTestId("devices-button").click();
  const panel = boss.getByRole("dialog", { name: "Devices & printing" });
  const row = panel.locator('[data-testid^="dead-job-"]').filter({ hasText: `Kitchen ticket ${ticket} (grill)` });
  await row.waitFor({ timeout: 15_000 });
  const jobId = (await row.getAttribute("data-testid")).replace("dead-job-", "");
  assert.match(await row.innerText(), /Connection refused/);
  await panel.getByTestId("device-state-grill").filter({ hasText: /^Offline$/ }).waitFor();
  assert.match(await panel.getByTestId("device-detail-grill").innerText(), /^Offline: printer unreachable: .*Connection refused/);
  await panel.getByTestId("device-dead-grill").filter({ hasText: "1 failed" }).waitFor();
  await panel.getByTestId("device-state-receipt").filter({ hasText: "Online" }).waitFor();
  // The bar printer reports its paper at the next status check.
  await panel.getByTestId("device-state-bar").filter({ hasText: "Out of paper" }).waitFor({ timeout: 20_000 });
  await shot(boss, "pos-devices-panel");

  // Send it to the receipt printer: it prints there and leaves the list, for the cashier too.
  await row.getByTestId(`send-to-${jobId}`).click();
  await row.getByTestId(`send-${jobId}-to-receipt`).waitFor();
  await shot(boss, "pos-devices-send-to");
  await row.getByTestId(`send-${jobId}-to-receipt`).click();
  const printed = await receipt.nextPrint();
  keep(printed, "printed-kitchen-ticket-rerouted");
  await row.waitFor({ state: "detached" });
  await cashierRow.waitFor({ state: "detached" });
  await boss.getByTestId("toast").filter({ hasText: `Kitchen ticket ${ticket} (grill) sent to Front receipt` }).waitFor();
  await panel.getByTestId("device-dead-grill").filter({ hasText: "0 failed" }).waitFor();
  await shot(boss, "pos-devices-after-reprint");

  const jobs = await node.api(manager, "GET", "/api/v1/print-jobs?state=done");
  const job = jobs.body.jobs.find((j) => j.id === jobId);
  assert.equal(job?.device_id, "receipt", "the job printed on the receipt printer");
  assert.deepEqual(boss.errors, []);
  assert.deepEqual(cashier.errors, []);
  await boss.close();
  await cashier.close();
});
