// The kitchen display against a real store node: tickets arrive live on the
// right station, bumps move the order along, and reloads or a dropped link
// never lose or double a ticket.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { launch, shot, startNode, pinSignIn } from "../harness.mjs";

const VIEWPORT = { width: 1920, height: 1080 };
const SOON = 10_000;

let node;
let browser;
let cashier;
let kiosk;
before(async () => {
  node = await startNode();
  browser = await launch();
  cashier = await node.token("cashier", "3000");
  kiosk = await node.token("kiosk", "5000");
});
after(async () => {
  await browser?.close();
  await node?.stop();
});

/** Polls `check` until it returns something truthy, or fails after `timeout`. */
async function until(check, what, timeout = SOON) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function line(item_id, modifiers = [], quantity = 1, note = null) {
  return { item_id, quantity, modifiers, note };
}
const burger = (mods = [], note = null, q = 1) =>
  line("harbor-classic-burger", ["burger-doneness-medium", "burger-bun-brioche", ...mods], q, note);
const soda = (q = 1) => line("fountain-soda", ["drink-size-large", "soda-choice-cola"], q);

async function place(lines, extra = {}, token = cashier) {
  const body = { channel: token === kiosk ? "kiosk" : "pos", fulfillment: "dine_in", lines, ...extra };
  const r = await node.api(token, "POST", "/api/v1/orders", body, randomUUID());
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function status(id) {
  const r = await node.api(cashier, "GET", `/api/v1/orders/${id}`);
  assert.equal(r.status, 200);
  return r.body.status;
}

async function signIn(page) {
  await page.goto(`${node.base}/kds/`);
  await page.getByRole("heading", { name: "Kitchen display — sign in" }).waitFor();
  // Only kitchen, manager, owner and cashier staff may use the display.
  await page.getByRole("button", { name: /Kim Kitchen/ }).waitFor();
  assert.equal(await page.getByRole("button", { name: /Self-order kiosk/ }).count(), 0);
  await pinSignIn(page, "Kim Kitchen", "4000");
  await page.getByTestId("station-all").waitFor();
}

async function openKds(station) {
  const page = await browser.newPage({ viewport: VIEWPORT });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await signIn(page);
  await page.getByTestId(`station-${station}`).click();
  await page.getByTestId("link-status").and(page.locator('[data-status="live"]')).waitFor({ timeout: SOON });
  return { page, errors };
}

const board = (page) => page.getByTestId("board").locator('[data-testid^="ticket-"]');

/** The ticket numbers on the board, by their place on screen (duplicates kept, so doubles show). */
async function boardTickets(page) {
  const cards = board(page);
  const n = await cards.count();
  const out = [];
  for (let i = 0; i < n; i++) {
    const card = cards.nth(i);
    const ticket = (await card.getAttribute("data-testid")).slice("ticket-".length);
    out.push({ ticket, at: Number(await card.getAttribute("data-position")) });
  }
  return out.sort((a, b) => a.at - b.at).map((c) => c.ticket);
}

test("a ticket goes to each station with only its lines, and bumping both makes the order ready", async () => {
  const { page, errors } = await openKds("grill");
  assert.equal(await page.getByTestId("station-grill").getAttribute("aria-pressed"), "true");

  const order = await place([burger(["burger-addons-bacon"], "no pickles"), soda()], { table: "12" });
  const card = page.getByTestId(`ticket-${order.ticket}`);
  await card.waitFor({ timeout: 5_000 });

  // Grill sees the burger (with its modifiers and the note), not the soda.
  const text = await card.innerText();
  assert.match(text, new RegExp(order.ticket));
  assert.match(text, /Harbor Classic Burger/);
  assert.match(text, /Medium/);
  assert.match(text, /Bacon/);
  assert.match(text, /no pickles/);
  assert.match(text, /Table 12/);
  assert.match(text, /POS/);
  assert.doesNotMatch(text, /Fountain Soda/);

  // All-day shows one burger before the bump.
  const burgers = page.getByTestId("all-day").locator('[data-name="Harbor Classic Burger"]');
  assert.match(await burgers.innerText(), /^\s*1\s/);
  assert.equal(await page.getByTestId("all-day").locator('[data-name="Fountain Soda"]').count(), 0);
  await shot(page, "kds-grill-single");

  // Bump at grill: it leaves the grill view, and the order is not ready yet.
  await page.getByTestId(`bump-${order.ticket}`).click();
  await card.waitFor({ state: "detached", timeout: SOON });
  assert.equal(await page.getByTestId("all-day").locator('[data-name="Harbor Classic Burger"]').count(), 0);
  assert.notEqual(await status(order.id), "ready");

  // The bar still has it, with only the soda.
  await page.getByTestId("station-bar").click();
  await card.waitFor({ timeout: SOON });
  const barText = await card.innerText();
  assert.match(barText, /Fountain Soda/);
  assert.match(barText, /Cola/);
  assert.doesNotMatch(barText, /Harbor Classic Burger/);

  await page.getByTestId(`bump-${order.ticket}`).click();
  await card.waitFor({ state: "detached", timeout: SOON });
  await until(async () => (await status(order.id)) === "ready", "the order to be ready");

  // The station choice is remembered on this screen.
  await page.reload();
  await page.getByTestId("station-bar").and(page.locator('[aria-pressed="true"]')).waitFor({ timeout: SOON });
  assert.deepEqual(errors, []);
  await page.close();
});

test("reloads and a dropped link neither lose nor double a ticket; bump and recall on Expo", async () => {
  // Every events socket goes through this route so the test can drop the link and hold it down.
  let blocked = false;
  let current = null;
  const page = await browser.newPage({ viewport: VIEWPORT });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.routeWebSocket(/\/api\/v1\/events/, (ws) => {
    if (blocked) {
      ws.close({ code: 1011, reason: "test: link down" });
      return;
    }
    ws.connectToServer();
    current = ws;
  });
  await signIn(page);
  await page.getByTestId("station-all").click();
  await page.getByTestId("link-status").and(page.locator('[data-status="live"]')).waitFor({ timeout: SOON });
  assert.deepEqual(await boardTickets(page), [], "Expo starts empty (the first test's order is ready)");

  const placed = [];
  placed.push(await place([burger()], { table: "3" }));
  placed.push(await place([soda(2)], { fulfillment: "takeaway", customer_name: "Ana" }, kiosk));
  for (const o of placed) await page.getByTestId(`ticket-${o.ticket}`).waitFor({ timeout: SOON });

  // Reload while two more orders are placed.
  const [, a, b] = await Promise.all([
    page.reload(),
    place([line("margherita-pizza", ["pizza-size-12in", "pizza-crust-thin"])]),
    place([burger(), line("shoestring-fries")]),
  ]);
  placed.push(a, b);
  const want = placed.map((o) => o.ticket).sort();
  await until(async () => JSON.stringify((await boardTickets(page)).sort()) === JSON.stringify(want), "exactly the 4 tickets");
  assert.equal(await page.getByTestId("station-all").getAttribute("aria-pressed"), "true", "Expo is remembered");

  // Drop the link and keep it down: the banner says so, and an order placed meanwhile shows up once it is back.
  blocked = true;
  current.close({ code: 1012, reason: "test: drop" });
  const banner = page.getByTestId("link-banner");
  await banner.waitFor({ timeout: SOON });
  assert.equal((await banner.innerText()).trim(), "Reconnecting to the store server — tickets may be delayed");
  await shot(page, "kds-reconnecting");
  const late = await place([line("iced-tea", ["drink-size-medium"])], { table: "7" });
  placed.push(late);
  blocked = false;
  await banner.waitFor({ state: "detached", timeout: 20_000 });
  await page.getByTestId(`ticket-${late.ticket}`).waitFor({ timeout: SOON });
  const five = await boardTickets(page);
  assert.equal(five.length, 5, `five tickets, got ${five}`);
  assert.equal(new Set(five).size, 5, `no doubles, got ${five}`);

  // Bump the first on Expo: the order is ready and leaves the board.
  const first = placed[0];
  await page.getByTestId(`bump-${first.ticket}`).click();
  await page.getByTestId(`ticket-${first.ticket}`).waitFor({ state: "detached", timeout: SOON });
  assert.equal(await status(first.id), "ready");

  // Keyboard: "2" selects the second ticket, Enter bumps it.
  const before2 = await boardTickets(page);
  await page.keyboard.press("2");
  await page.getByTestId(`ticket-${before2[1]}`).and(page.locator('[aria-current="true"]')).waitFor();
  await page.keyboard.press("Enter");
  await page.getByTestId(`ticket-${before2[1]}`).waitFor({ state: "detached", timeout: SOON });
  const second = placed.find((o) => o.ticket === before2[1]);
  assert.equal(await status(second.id), "ready");

  // Recall lists each bumped (ready) order once, and hands one out.
  await page.getByTestId("recall").click();
  const list = page.getByTestId("recall-list");
  await list.waitFor();
  for (const t of [first.ticket, second.ticket]) assert.equal(await list.getByTestId(`recall-${t}`).count(), 1);
  await shot(page, "kds-recall");
  await list.getByTestId(`complete-${first.ticket}`).click();
  await list.getByTestId(`recall-${first.ticket}`).getByText("Handed out", { exact: true }).waitFor({ timeout: SOON });
  assert.equal(await status(first.id), "completed");
  await page.keyboard.press("Escape");
  await list.waitFor({ state: "detached" });

  // Nothing came back or doubled on the board.
  const left = await boardTickets(page);
  assert.deepEqual(left.sort(), placed.filter((o) => o !== first && o !== second).map((o) => o.ticket).sort());
  assert.equal(new Set(left).size, left.length);

  // Clear the board for the next test.
  for (const t of left) {
    await page.getByTestId(`bump-${t}`).click();
    await page.getByTestId(`ticket-${t}`).waitFor({ state: "detached", timeout: SOON });
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test("a busy kitchen is legible from across the room (screenshots)", async () => {
  const burgerNote = "no pickles, sauce on side";
  await place([burger(["burger-addons-bacon", "burger-addons-cheddar"], burgerNote, 2), soda(2)], { table: "12" });
  await place(
    [
      line("margherita-pizza", ["pizza-size-16in", "pizza-crust-thin", "pizza-toppings-fresh-basil"]),
      line("caesar-salad", ["salad-protein-grilled-chicken"]),
    ],
    { fulfillment: "takeaway", customer_name: "Jordan" },
    kiosk,
  );
  await place(
    [
      line("double-cheddar-burger", ["burger-doneness-well-done", "burger-bun-gluten-free", "side-swap-onion-rings"], 1, "allergy: sesame"),
      line("kids-chicken-tenders", ["kids-side-apple-slices"]),
      line("kids-cheese-pizza"),
      line("kids-milk"),
    ],
    { table: "Patio 3", note: "birthday — bring candle with dessert" },
  );
  await place(
    [
      line("pepperoni-pizza", ["pizza-size-12in", "pizza-crust-hand-tossed"], 2),
      line("garlic-knots"),
      line("hand-spun-milkshake", ["shake-flavor-chocolate", "drink-size-medium"]),
    ],
    { table: "4" },
  );
  await place(
    [burger([], null, 3), line("shoestring-fries", [], 3), line("fresh-lemonade", ["drink-size-large", "drink-ice-light-ice"], 3)],
    { fulfillment: "pickup", customer_name: "Sam" },
    kiosk,
  );
  await place(
    [
      line("firecracker-burger", ["burger-doneness-medium-rare", "burger-bun-sesame", "burger-addons-jalapenos"]),
      line("beer-battered-onion-rings"),
      line("house-garden-salad", ["salad-dressing-ranch"], 2),
    ],
    { table: "9" },
  );

  const { page, errors } = await openKds("grill");
  await until(async () => (await boardTickets(page)).length === 4, "four grill tickets");
  // The oldest is selected, ready for the bump bar.
  await board(page).and(page.locator('[data-position="1"][aria-current="true"]')).waitFor();
  const burgers = page.getByTestId("all-day").locator('[data-name="Harbor Classic Burger"]');
  assert.match(await burgers.innerText(), /^\s*5\s/);
  await shot(page, "kds-grill");

  await page.getByTestId("station-pizza").click();
  await until(async () => (await boardTickets(page)).length === 4, "four pizza-oven tickets");
  await shot(page, "kds-all-day");

  await page.getByTestId("station-all").click();
  await until(async () => (await boardTickets(page)).length === 6, "six orders on Expo");
  await shot(page, "kds-expo");

  // Ages: amber from 5 minutes, red from 10 (the page's clock moves on; the orders do not).
  const firstCard = board(page).and(page.locator('[data-position="1"]'));
  assert.equal(await firstCard.getAttribute("data-age"), "fresh");
  await page.clock.setSystemTime(Date.now() + 6 * 60_000);
  await until(async () => (await firstCard.getAttribute("data-age")) === "warn", "amber after 5 minutes");
  await page.clock.setSystemTime(Date.now() + 11 * 60_000);
  await until(async () => (await firstCard.getAttribute("data-age")) === "late", "red after 10 minutes");
  await shot(page, "kds-expo-late");

  // A cancelled order leaves the screen with a notice, so nobody keeps cooking it.
  const gone = await place([line("mozzarella-sticks")], { table: "2" });
  await page.getByTestId(`ticket-${gone.ticket}`).waitFor({ timeout: SOON });
  const r = await node.api(cashier, "POST", `/api/v1/orders/${gone.id}/cancel`, { reason: "customer left" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.getByTestId(`ticket-${gone.ticket}`).waitFor({ state: "detached", timeout: SOON });
  const notice = page.getByTestId("notice");
  await notice.waitFor({ timeout: SOON });
  assert.match(await notice.innerText(), new RegExp(`${gone.ticket} was cancelled`));
  assert.deepEqual(errors, []);
  await page.close();
});
