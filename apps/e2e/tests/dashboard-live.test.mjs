// The dashboard's live overview and its sales report in a real browser, against
// a real cloud hub serving the dashboard and a real store node syncing with it,
// with a virtual printer on the node (and a second store of the organisation
// whose store server never connected). An owner signs in and lands on the
// Overview of both stores; its live link is cut and it connects again by
// itself; while the page stays loaded (never reloaded) the
// running printer runs out of paper and back, and the Overview says so (and
// so when the store server goes away and comes back); the
// merchant's kitchen thresholds are set on the Settings page and orders placed
// at the node are left open in the kitchen, and the Overview shows online
// ordering quoted later, then paused, then taking orders again once the kitchen
// bumps them. Each wait is for what the page shows, with a deadline: the node
// reports its backlog at most every 10 s (store-node/src/kitchen_backlog.rs),
// the printer's status every 300 ms here. Then the Sales page's totals for
// today equal the sum of the orders the test placed (till, kiosk and online),
// and the CSV it downloads holds the same numbers, as do the organisation's
// report and the last 7 days. A store's manager sees only that store on the
// Overview and the manager's pages, is not offered People, and the hub refuses
// it by its address. Screenshots of the Overview (laptop, phone) and Sales
// (laptop, phone); axe-core on each page.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { a11y, launch, shot, startHub, startNode, startVirtualPrinter, syncEnv } from "../harness.mjs";
import { call, LAPTOP, nodeToken, orgStore, ownedOrg, PHONE, signIn, takingOrders, until } from "../dashboard.mjs";

const STORE = "harbour-st";
const OWNER = { email: "hana.owner@example.com", password: "owner-password-456", name: "Hana Owner" };
const MANAGER = { email: "max.manager@example.com", password: "manager-password-456", name: "Max Manager" };
const CUSTOMER = { email: "cleo.customer@example.com", password: "customer-password-456", name: "Cleo" };
/** The node reports its kitchen at most every 10 s; a change shows within two reports. */
const BACKLOG_MS = 30_000;
/** The printer is asked its status every 300 ms; the hub hears of a change within a second or two. */
const DEVICE_MS = 10_000;

let hub;
let node;
let browser;
let printer;
let staff;
let orgId;
let nodeEnv;
/** The node's data, kept across its restart. */
const nodeDir = mkdtempSync(join(tmpdir(), "e2e-dashboard-live-node-"));
/** Every order the test placed, as the node or the hub answered it. */
const placed = [];

before(async () => {
  hub = await startHub();
  orgId = await ownedOrg(hub, "Harbour Street Foods", OWNER);
  await orgStore(hub, orgId, STORE, "Harbour Street Kitchen");
  // A second store of the organisation whose store server has never connected.
  await orgStore(hub, orgId, "quay-side", "Quay Side");
  const token = await nodeToken(hub, STORE);
  nodeEnv = { ...syncEnv(hub.base, STORE, token), STORE_NODE__PRINT__STATUS_POLL_MS: "300" };
  node = await startNode({ env: nodeEnv, dataDir: nodeDir });
  browser = await launch();
  printer = await startVirtualPrinter("bar");
  staff = await node.token("manager", "2000");
  await node.registerDevice(staff, { id: "bar-printer", kind: "kitchen_printer", name: "Bar printer", station: "bar", transport: printer.transport });
  await takingOrders(hub, STORE);
});
after(async () => {
  await browser?.close();
  await node?.stop();
  await hub?.stop();
  await printer?.stop();
  rmSync(nodeDir, { recursive: true, force: true });
});

/** Places an order at the node's till (or kiosk) and keeps its answer. */
async function tillOrder(lines, channel = "pos") {
  const r = await node.api(staff, "POST", "/api/v1/orders", { channel, fulfillment: "takeaway", lines }, randomUUID());
  assert.equal(r.status, 201, JSON.stringify(r.body));
  placed.push({ id: r.body.id, channel, total: r.body.totals.total });
  return r.body;
}

/** The kitchen bumps every station of `order` done (what a KDS does); it is ready then. */
async function bump(order) {
  for (const station of new Set(order.lines.map((l) => l.station))) {
    const r = await node.api(staff, "POST", `/api/v1/orders/${order.id}/stations/${station}/done`, undefined, randomUUID());
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
}

/**
 * No horizontal scrolling at the page's current size, once it has laid out again
 * (the charts measure their box on the frame after a resize).
 */
async function fitsWidth(page, what) {
  let last;
  await until(`${what} to fit the width without scrolling sideways (last: ${JSON.stringify(last)})`, async () => {
    last = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
    return last.scroll <= last.inner;
  }, 5_000).catch((e) => {
    throw new Error(`${what} scrolls sideways: ${last.scroll} px in ${last.inner} px (${e.message})`);
  });
}

test("the owner's overview follows the store live, and the sales report adds up to the orders placed", async () => {
  const context = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  // The merchant event sockets the page opens, passed through to the hub, so the test can cut one.
  const sockets = [];
  await page.routeWebSocket(/\/api\/v1\/orgs\/[^/]+\/events/, (ws) => {
    sockets.push({ page: ws, hub: ws.connectToServer() });
  });

  // Sign in: the dashboard opens on the organisation's overview, live.
  await signIn(page, hub.base, OWNER);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  assert.match(page.url(), new RegExp(`/dashboard/stores/${STORE}/overview$`));
  await page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
  const card = page.locator(`[data-store="${STORE}"]`);
  await card.getByRole("heading", { name: "Harbour Street Kitchen" }).waitFor();
  await card.getByTestId("ordering-state").filter({ hasText: /^Taking online orders$/ }).waitFor();
  await card.getByTestId("node").filter({ hasText: "Online" }).waitFor();
  await card.getByTestId("attention-none").waitFor();
  // The other store: not taking orders, and why.
  const quay = page.locator('[data-store="quay-side"]');
  await quay.getByTestId("node").filter({ hasText: "Has not connected yet" }).waitFor();
  await quay.getByTestId("ordering").filter({ hasText: "the store server is not connected" }).waitFor();
  await page.getByText("2 stores: 1 of 2 taking online orders; 1 needs attention.").waitFor();
  // Everything below happens on this one page load: a reload would clear this mark.
  await page.evaluate(() => (window.stillTheSamePage = true));
  await shot(page, "dashboard-live-1-overview");
  await a11y(page, "the overview");

  // The live link drops: the page connects again by itself (and what follows arrives on the new socket).
  const before = sockets.length;
  sockets.at(-1).hub.close();
  await sockets.at(-1).page.close({ code: 4000, reason: "dropped by the test" });
  await until("the overview to open a new event socket", () => sockets.length > before, 10_000);
  await page.locator('[data-testid="live-status"][data-status="live"]').waitFor();

  // The running printer runs out of paper: the overview says so within seconds; paper back in, it clears.
  await printer.setStatus("paper-out");
  await card.getByTestId("attention").locator('[data-device="bar-printer"]').filter({ hasText: "Bar printer: Out of paper" }).waitFor({ timeout: DEVICE_MS });
  await shot(page, "dashboard-live-2-out-of-paper");
  await a11y(page, "the overview with a printer out of paper");
  await printer.setStatus("cover-open");
  await card.getByTestId("attention").filter({ hasText: "Bar printer: Cover open" }).waitFor({ timeout: DEVICE_MS });
  await printer.setStatus("ok");
  await card.getByTestId("attention-none").waitFor({ timeout: DEVICE_MS });

  // The merchant's thresholds on the Settings page: pickups 5 minutes later per ticket beyond 1;
  // online ordering paused from 4 (a pause below the first number is refused next to the fields).
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  await page.getByLabel("Quote later pickups from this many open tickets").fill("1");
  await page.getByLabel("Extra minutes for each ticket beyond that").fill("5");
  const pauseAt = page.getByLabel("Pause online ordering at this many open tickets");
  await pauseAt.fill("1");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#err-backlog").filter({ hasText: "Pause online ordering at more open tickets" }).waitFor();
  assert.equal(await pauseAt.getAttribute("aria-invalid"), "true");
  await pauseAt.fill("4");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").filter({ hasText: "Settings saved" }).waitFor();
  await a11y(page, "settings with the kitchen thresholds");
  const owner = (await call("POST", `${hub.base}/api/v1/auth/login`, { email: OWNER.email, password: OWNER.password })).body.access_token;
  const saved = await call("GET", `${hub.base}/api/v1/stores/${STORE}/settings`, undefined, owner);
  assert.deepEqual(
    [saved.body.backlog_slow_at, saved.body.backlog_quote_per_ticket_minutes, saved.body.backlog_pause_at],
    [1, 5, 4],
  );
  await page.getByRole("link", { name: "Overview" }).click();
  await page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
  const effect = card.getByTestId("kitchen-effect");

  // Two tickets wait in the kitchen: pickups are quoted later.
  const open = [await tillOrder([{ item_id: "shoestring-fries", quantity: 2 }]), await tillOrder([{ item_id: "garlic-knots", quantity: 1 }])];
  await effect.and(page.locator('[data-throttle="slow"]')).filter({ hasText: "Pickup quoted 5 minutes later because 2 tickets are waiting." }).waitFor({ timeout: BACKLOG_MS });
  await card.getByTestId("ordering-state").filter({ hasText: "Taking online orders, later pickups" }).waitFor();
  await card.locator('[data-station="grill"]').filter({ hasText: "Grill" }).filter({ hasText: "1 ticket" }).waitFor();

  // Four: online ordering pauses by itself.
  open.push(await tillOrder([{ item_id: "key-lime-pie", quantity: 3 }]), await tillOrder([{ item_id: "beer-battered-onion-rings", quantity: 1 }], "kiosk"));
  await effect.and(page.locator('[data-throttle="paused"]')).filter({ hasText: "Online ordering paused: the kitchen is busy. 4 tickets are waiting." }).waitFor({ timeout: BACKLOG_MS });
  await card.getByTestId("ordering-state").filter({ hasText: "Online ordering paused" }).waitFor();
  await card.getByTestId("ordering").filter({ hasText: "Online ordering paused: the kitchen is busy" }).waitFor();
  const paused = await fetch(`${hub.base}/api/v1/public/stores/${STORE}/menu`).then((r) => r.json());
  assert.equal(paused.ordering.accepting, false);
  await shot(page, "dashboard-live-3-kitchen-paused");
  await a11y(page, "the overview with ordering paused");

  // The kitchen bumps three: ordering resumes, nothing quoted later.
  for (const o of open.slice(0, 3)) await bump(o);
  await effect.and(page.locator('[data-throttle="none"]')).filter({ hasText: "1 ticket is waiting; online ordering is not affected." }).waitFor({ timeout: BACKLOG_MS });
  await card.getByTestId("ordering-state").filter({ hasText: /^Taking online orders$/ }).waitFor();

  // A cash payment at the till, and an order online at the hub.
  const cash = await node.api(staff, "POST", `/api/v1/orders/${open[0].id}/payments`, { method: "cash", tendered: open[0].totals.total }, randomUUID());
  assert.equal(cash.status, 201, JSON.stringify(cash.body));
  const signup = await call("POST", `${hub.base}/api/v1/auth/signup`, CUSTOMER);
  assert.equal(signup.status, 201, JSON.stringify(signup.body));
  const web = await call("POST", `${hub.base}/api/v1/stores/${STORE}/orders`, { lines: [{ item_id: "brownie-sundae", quantity: 2 }] }, signup.body.access_token);
  assert.equal(web.status, 201, JSON.stringify(web.body));
  placed.push({ id: web.body.id, channel: "online", total: web.body.totals.total });

  // What the test placed, summed here; the hub's figures must say the same.
  const count = placed.length;
  const sum = placed.reduce((s, o) => s + o.total, 0);
  const byChannel = (c) => placed.filter((o) => o.channel === c).reduce((s, o) => s + o.total, 0);
  // Today's figures on the overview follow the orders as they sync.
  await card.locator('[data-figure="orders"]').filter({ hasText: new RegExp(`^${count}$`) }).waitFor({ timeout: 20_000 });
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, "the overview was reloaded");

  // The store server goes away, and comes back: the overview follows.
  await node.stop();
  await card.getByTestId("node").filter({ hasText: /^Away for less than a minute \(since / }).waitFor({ timeout: DEVICE_MS });
  node = await startNode({ env: nodeEnv, dataDir: nodeDir });
  staff = await node.token("manager", "2000");
  await card.getByTestId("node").filter({ hasText: /^Online$/ }).waitFor({ timeout: 20_000 });

  // The overview at phone size: one column, nothing cut off.
  await page.setViewportSize(PHONE);
  await card.getByTestId("kitchen-effect").scrollIntoViewIfNeeded();
  await fitsWidth(page, "the overview at phone size");
  await page.evaluate(() => scrollTo(0, 0));
  await shot(page, "dashboard-live-4-overview-phone");
  await a11y(page, "the overview at phone size");
  await page.setViewportSize(LAPTOP);

  // Sales: today's totals are the hub's, and equal the test's sum.
  await page.getByRole("link", { name: "Sales" }).click();
  await page.getByRole("heading", { name: "Sales" }).waitFor();
  const total = (key) => page.locator(`[data-total="${key}"]`);
  await total("orders").and(page.locator(`[data-value="${count}"]`)).waitFor({ timeout: 20_000 });
  assert.equal(Number(await total("gross_sales").getAttribute("data-value")), sum);
  assert.equal((await total("gross_sales").innerText()).replace(/[^\d]/g, ""), String(sum));
  for (const [key, words] of [
    ["pos", "Till"],
    ["kiosk", "Kiosk"],
    ["online", "Online"],
  ]) {
    const row = page.locator(`[data-breakdown="by-channel"] tr[data-key="${key}"]`);
    assert.equal(await row.locator("td").first().innerText(), words);
    assert.equal(Number(await row.getAttribute("data-sales")), byChannel(key));
  }
  await page.locator('[data-breakdown="by-payment"] tr[data-key="cash"]').filter({ hasText: "Cash" }).waitFor();
  await page.locator('[data-breakdown="by-item"]').getByText("Shoestring Fries").waitFor();
  await page.locator(".recharts-surface").first().waitFor();
  await shot(page, "dashboard-live-5-sales");
  await page.mouse.move(1, 1);
  await page.getByRole("heading", { name: "By item" }).evaluate((h) => h.scrollIntoView({ block: "start" }));
  await shot(page, "dashboard-live-5-sales-charts");
  await page.evaluate(() => scrollTo(0, 0));
  await a11y(page, "sales");

  // The CSV the page downloads (the hub's, fetched with the account's token) holds the same numbers.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  assert.match(download.suggestedFilename(), /^sales-harbour-street-kitchen-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/);
  const csv = (await readFile(await download.path(), "utf8")).trim().split(/\r?\n/).map((l) => l.split(","));
  assert.deepEqual(csv[0], ["dimension", "key", "label", "orders", "quantity", "sales", "currency"]);
  const line = (dimension, key) => csv.find((r) => r[0] === dimension && r[1] === key);
  assert.equal(Number(line("total", "orders")[3]), count);
  assert.equal(Number(line("total", "gross_sales")[5]), sum);
  assert.equal(Number(line("channel", "online")[5]), byChannel("online"));
  assert.equal(Number(line("channel", "pos")[5]), byChannel("pos"));
  await page.getByRole("status").filter({ hasText: "Saved sales-harbour-street-kitchen" }).waitFor();

  // The organisation's report (both stores) and the last 7 days hold the same orders: all are today's.
  await page.getByRole("combobox", { name: "Stores" }).selectOption("org");
  await page.getByText("Harbour Street Foods.", { exact: false }).first().waitFor();
  await total("orders").and(page.locator(`[data-value="${count}"]`)).waitFor();
  assert.equal(Number(await total("gross_sales").getAttribute("data-value")), sum);
  const report = page.getByTestId("sales-report");
  const today = await report.getAttribute("data-to");
  await page.getByRole("button", { name: "Last 7 days" }).click();
  await page.locator(`[data-testid="sales-report"][data-to="${today}"]:not([data-from="${today}"])`).waitFor();
  await total("orders").and(page.locator(`[data-value="${count}"]`)).waitFor();
  assert.equal(Number(await total("gross_sales").getAttribute("data-value")), sum);

  // Sales at phone size: one column, nothing sideways.
  await page.setViewportSize(PHONE);
  await fitsWidth(page, "sales at phone size");
  await shot(page, "dashboard-live-6-sales-phone");
  await a11y(page, "sales at phone size");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a manager sees the manager's pages; People is not offered and the hub refuses it", async () => {
  const owner = (await call("POST", `${hub.base}/api/v1/auth/login`, { email: OWNER.email, password: OWNER.password })).body.access_token;
  const invite = await call("POST", `${hub.base}/api/v1/orgs/${orgId}/invitations`, { email: MANAGER.email, role: "manager", store_id: STORE }, owner);
  assert.equal(invite.status, 201, JSON.stringify(invite.body));
  const joined = await call("POST", `${hub.base}/api/v1/auth/accept-invitation`, { token: invite.body.token, name: MANAGER.name, password: MANAGER.password });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));

  const context = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await signIn(page, hub.base, MANAGER);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  const card = page.locator(`[data-store="${STORE}"]`);
  await card.getByRole("heading", { name: "Harbour Street Kitchen" }).waitFor();
  // Only the store the manager manages.
  assert.equal(await page.locator("[data-store]").count(), 1);
  const nav = page.getByRole("navigation", { name: "Store pages" });
  assert.deepEqual(await nav.getByRole("link").allInnerTexts(), ["Overview", "Live orders", "Menu", "Sales", "Settings", "Devices"]);
  await page.getByRole("combobox", { name: "Store" }).filter({ hasText: "Harbour Street Kitchen" }).waitFor();
  await shot(page, "dashboard-live-7-manager-overview");
  await a11y(page, "the manager's overview");

  for (const [link, heading] of [
    ["Live orders", "Live orders"],
    ["Menu", "Menu"],
  ]) {
    await nav.getByRole("link", { name: link }).click();
    await page.getByRole("heading", { name: heading, exact: true }).first().waitFor();
  }
  // Sales: the store's report, the same totals the owner saw.
  await nav.getByRole("link", { name: "Sales" }).click();
  await page.locator(`[data-total="orders"][data-value="${placed.length}"]`).waitFor();
  assert.equal(await page.getByRole("combobox", { name: "Stores" }).count(), 0, "a store's manager is offered the organisation's sales");
  await a11y(page, "the manager's sales");

  // People by its address: the hub's refusal, in words.
  await page.goto(`${hub.base}/dashboard/stores/${STORE}/people`);
  await page.getByRole("alert").filter({ hasText: "Your role doesn't allow this" }).first().waitFor();
  const login = await call("POST", `${hub.base}/api/v1/auth/login`, { email: MANAGER.email, password: MANAGER.password });
  const members = await fetch(`${hub.base}/api/v1/stores/${STORE}/members`, { headers: { authorization: `Bearer ${login.body.access_token}` } });
  assert.equal(members.status, 403);
  await shot(page, "dashboard-live-8-manager-people");
  await a11y(page, "people refused to a manager");
  assert.deepEqual(errors, []);
  await context.close();
});
