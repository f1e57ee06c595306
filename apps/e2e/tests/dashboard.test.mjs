// The merchant dashboard in a real browser at laptop size (and one page at
// phone size), against a real cloud hub serving it at /dashboard/ and a real
// store node syncing with that hub. An organisation's owner (made with the hub's
// admin API, joined by invitation) signs in and picks the store; a price change
// reaches the node's menu; an item marked sold out is refused by the hub's
// public cart; a time zone the hub refuses is shown next to its field; a cashier
// invited from the People page accepts and signs in at the node with the hub's
// token; a printer out of paper shows "Out of paper" on the Devices page; and the
// cashier signing in at the dashboard is told plainly that the account has no
// stores to manage. axe-core on every page; screenshots of every page.
import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { after, before, test } from "node:test";
import { a11y, launch, shot, startHub, startNode, startVirtualPrinter, syncEnv } from "../harness.mjs";
import { LAPTOP, nodeToken, orgStore, ownedOrg, PHONE, post, signIn, takingOrders, until } from "../dashboard.mjs";

const STORE = "dock-road";
const OWNER = { email: "olive.owner@example.com", password: "owner-password-123", name: "Olive Owner" };
const CASHIER = { email: "cam.cashier@example.com", password: "cashier-password-123", name: "Cam Cashier" };

let hub;
let node;
let browser;
let printer;
let manager;
before(async () => {
  hub = await startHub();
  const orgId = await ownedOrg(hub, "Dock Road Eats", OWNER);
  await orgStore(hub, orgId, STORE, "Dock Road Kitchen");
  const token = await nodeToken(hub, STORE);
  node = await startNode({ env: syncEnv(hub.base, STORE, token) });
  browser = await launch();
  // The bar's printer, out of paper from the start.
  printer = await startVirtualPrinter("bar", { flags: ["--paper-out"] });
  manager = await node.token("manager", "2000");
  await node.registerDevice(manager, { id: "bar-printer", kind: "kitchen_printer", name: "Bar printer", station: "bar", transport: printer.transport });
  // The node syncs its menu up and the hub sees it connected.
  await takingOrders(hub, STORE);
});
after(async () => {
  await browser?.close();
  await node?.stop();
  await hub?.stop();
  await printer?.stop();
});

/** The node's menu price of `item`, as its staff API shows it. */
async function nodePrice(item) {
  const r = await node.api(manager, "GET", "/api/v1/menu");
  assert.equal(r.status, 200);
  return r.body.menu.items.find((i) => i.id === item)?.price;
}

test("an owner runs the store from the dashboard: menu, settings, people, devices", async () => {
  const context = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));

  // An order at the till, before the owner looks.
  const placed = await node.api(
    manager,
    "POST",
    "/api/v1/orders",
    { channel: "pos", fulfillment: "takeaway", lines: [{ item_id: "shoestring-fries", quantity: 2 }] },
    randomUUID(),
  );
  assert.equal(placed.status, 201, JSON.stringify(placed.body));

  // Sign in: the one store opens on the overview; its live orders show the till's order (synced up).
  await signIn(page, hub.base, OWNER);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.getByRole("link", { name: "Live orders" }).click();
  await page.getByRole("heading", { name: "Live orders" }).waitFor();
  assert.match(page.url(), /\/dashboard\/stores\/dock-road\/orders$/);
  await page.getByRole("combobox", { name: "Store" }).filter({ hasText: "Dock Road Kitchen" }).waitFor();
  const row = page.getByRole("button", { name: new RegExp(`^${placed.body.ticket}`) });
  await row.waitFor();
  assert.match(await row.innerText(), /New[\s\S]*Counter[\s\S]*\$\d+\.\d\d/);
  await row.click();
  const detail = page.getByRole("article", { name: `Order ${placed.body.ticket}` });
  await detail.getByText("2 × Shoestring Fries").waitFor();
  await detail.getByText("Not paid yet").waitFor();
  await shot(page, "dashboard-1-orders");
  await a11y(page, "live orders");

  // Menu: a new price for the fries, saved, reaches the node's menu.
  await page.getByRole("link", { name: "Menu" }).click();
  await page.getByRole("heading", { name: "Salads & Sides" }).waitFor();
  assert.equal(await nodePrice("shoestring-fries"), 450);
  const price = page.getByLabel("Price of Shoestring Fries");
  assert.equal(await price.inputValue(), "4.50");
  // Meanwhile (the page open), the onion rings sell out at the hub: saving the price must not undo that.
  const soldOut = await hub.admin("PUT", `/api/v1/stores/${STORE}/menu/items/beer-battered-onion-rings/sold-out`, { sold_out: true });
  assert.equal(soldOut.status, 200, JSON.stringify(soldOut.body));
  await price.fill("5.25");
  await page.getByRole("button", { name: "Save menu" }).click();
  await page.getByRole("status").filter({ hasText: "Menu saved" }).waitFor();
  await shot(page, "dashboard-2-menu");
  await a11y(page, "the menu");
  await until("the node's menu to show the new price of the fries", async () => (await nodePrice("shoestring-fries")) === 525);
  const publicMenu = await fetch(`${hub.base}/api/v1/public/stores/${STORE}/menu`).then((r) => r.json());
  const rings = publicMenu.menu.items.find((i) => i.id === "beer-battered-onion-rings");
  assert.equal(rings.sold_out, true, "saving the menu kept the sold-out made while the page was open");

  // Sold out: the hub's public cart refuses the item at once.
  await page.getByRole("button", { name: "Mark Mozzarella Sticks sold out" }).click();
  await page.getByRole("button", { name: "Back on sale: Mozzarella Sticks" }).waitFor();
  const cart = await post(`${hub.base}/api/v1/public/stores/${STORE}/cart`, { lines: [{ item_id: "mozzarella-sticks", quantity: 1 }] });
  assert.equal(cart.status, 422, JSON.stringify(cart.body));
  assert.equal(cart.body.error.code, "sold_out");

  // The menu at phone size: one column, nothing sideways.
  await page.setViewportSize(PHONE);
  await page.getByRole("heading", { name: "Salads & Sides" }).scrollIntoViewIfNeeded();
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
  assert.ok(scroll <= inner, `the menu at phone size scrolls sideways: ${scroll} px in ${inner} px`);
  await shot(page, "dashboard-2-menu-phone");
  await a11y(page, "the menu at phone size");
  await page.setViewportSize(LAPTOP);

  // Settings: a time zone the hub refuses is shown next to that field; a good one saves.
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  const tz = page.getByLabel("Time zone of the opening hours");
  await tz.fill("Mars/Olympus");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#err-timezone").filter({ hasText: /time zone/i }).waitFor();
  assert.equal(await tz.getAttribute("aria-invalid"), "true");
  await shot(page, "dashboard-3-settings-refused");
  await a11y(page, "settings with a refused field");
  await tz.fill("Europe/Berlin");
  await page.getByLabel("Minutes to get a pickup order ready").fill("25");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").filter({ hasText: "Settings saved" }).waitFor();
  const settings = await fetch(`${hub.base}/api/v1/public/stores/${STORE}`).then((r) => r.json());
  assert.equal(settings.timezone ?? "Europe/Berlin", "Europe/Berlin");
  // A holiday: closed all day on a date, kept by the hub.
  await page.getByRole("button", { name: "Add a holiday or special hours" }).click();
  await page.getByLabel("Date", { exact: true }).fill("2030-12-25");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").filter({ hasText: "Settings saved" }).waitFor();
  await page.reload();
  await page.locator('[data-exception="2030-12-25"]').getByLabel("Closed all day").waitFor();
  assert.equal(await page.locator('[data-exception="2030-12-25"]').getByLabel("Closed all day").isChecked(), true);

  // A pause for half an hour with a message: customers are told, and cannot order; then resumed.
  await page.getByRole("combobox", { name: /^For\b/ }).selectOption("30");
  await page.getByLabel("What customers are told (optional)").fill("Our oven is being repaired.");
  await page.getByRole("button", { name: "Pause online ordering" }).click();
  await page.getByTestId("pause-state").filter({ hasText: "Our oven is being repaired." }).waitFor();
  const pausedStore = await fetch(`${hub.base}/api/v1/public/stores/${STORE}`).then((r) => r.json());
  assert.equal(pausedStore.ordering.reason, "paused", JSON.stringify(pausedStore.ordering));
  assert.match(pausedStore.ordering.message, /^Our oven is being repaired\. Online ordering starts again at \d\d:\d\d\.$/);
  await shot(page, "dashboard-3-settings-paused");
  await a11y(page, "settings while paused");
  await page.getByRole("button", { name: "Resume online ordering now" }).click();
  await page.getByRole("status").filter({ hasText: "Online ordering is on again" }).waitFor();
  const resumed = await fetch(`${hub.base}/api/v1/public/stores/${STORE}`).then((r) => r.json());
  assert.equal(resumed.ordering.accepting, true, JSON.stringify(resumed.ordering));

  // People: invite a cashier; they accept and sign in at the node with the hub's token.
  await page.getByRole("link", { name: "People" }).click();
  await page.getByRole("heading", { name: "Accounts" }).waitFor();
  await page.locator(`[data-member="${OWNER.email}"]`).waitFor();
  await page.getByLabel("Invite by email").fill(CASHIER.email);
  await page.getByRole("combobox", { name: "Their role" }).selectOption("cashier");
  await page.getByRole("button", { name: "Invite", exact: true }).click();
  const code = (await page.getByTestId("invitation-code").innerText()).trim();
  await page.getByText(`${CASHIER.email} as cashier`).waitFor();
  await shot(page, "dashboard-4-people");
  await a11y(page, "people");
  const accepted = await post(`${hub.base}/api/v1/auth/accept-invitation`, { token: code, name: CASHIER.name, password: CASHIER.password });
  assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
  const hubToken = accepted.body.access_token;
  await until("the node to take the cashier's hub token", async () => {
    const r = await fetch(`${node.base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${hubToken}` } });
    return r.status === 200;
  });
  // The last owner cannot be removed: the hub's refusal, in words.
  await page.reload();
  await page.locator(`[data-member="${CASHIER.email}"]`).waitFor();
  await page.getByRole("button", { name: `Remove ${OWNER.name}` }).click();
  await page.getByRole("alert").filter({ hasText: "last owner" }).waitFor();

  // Till staff: a new PIN member reaches the node, where they sign in with the PIN.
  await page.getByRole("button", { name: "Add till staff" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Pat Prep");
  await page.getByRole("combobox", { name: "Role", exact: true }).selectOption("kitchen");
  await page.getByLabel("PIN (4 to 8 digits)").fill("4321");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "Pat Prep is saved" }).waitFor();
  await page.getByRole("button", { name: "Edit Pat Prep" }).waitFor();
  await until("the node to sign Pat in with the PIN", async () => {
    const r = await fetch(`${node.base}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ staff_id: "pat-prep", pin: "4321" }) });
    return r.ok;
  });

  // Devices: the node is online, and the bar printer is out of paper.
  await page.getByRole("link", { name: "Devices" }).click();
  await page.getByRole("heading", { name: "Devices", exact: true }).waitFor();
  await page.locator('[data-node="Counter"]').getByText("Online").waitFor();
  await page.locator('[data-device="bar-printer"]').getByTestId("device-health").filter({ hasText: "Out of paper" }).waitFor({ timeout: 30_000 });
  await shot(page, "dashboard-5-devices");
  await a11y(page, "devices");
  // Pair a store server: a code shown big with the minutes it has left and the one-line
  // instructions; listed unused with who made it; revoked, it is gone.
  await page.getByLabel("Which store server").fill("Drive-through");
  await page.getByRole("button", { name: "Make a pairing code" }).click();
  const shown = (await page.getByTestId("pairing-code").textContent()).trim();
  assert.match(shown, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
  assert.match(await page.getByTestId("pairing-left").textContent(), /^(10 minutes|9 minutes \d+ seconds?) left$/);
  await page.getByText("On the new store server, enter this code, or give it to the flashing tool.").waitFor();
  const listed = page.locator("[data-code]").filter({ hasText: "Drive-through" });
  await listed.getByText(`made by ${OWNER.name}`).waitFor();
  await shot(page, "dashboard-pairing");
  await a11y(page, "devices, pairing a store server");
  await listed.getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("status").filter({ hasText: "That code no longer works." }).waitFor();
  await listed.waitFor({ state: "detached" });
  const refused = await post(`${hub.base}/api/v1/nodes/enroll`, enrollment(shown, "drive-through-box"));
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error.code, "invalid_code");

  // A server paired with a new code shows when and by whom; disconnected for good, after a yes.
  await page.getByRole("button", { name: "Make a pairing code" }).click();
  const second = (await page.getByTestId("pairing-code").textContent()).trim();
  assert.notEqual(second, shown);
  const enrolled = await post(`${hub.base}/api/v1/nodes/enroll`, enrollment(second, "Back office"));
  assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
  const backOffice = page.locator('[data-node="Back office"]');
  await backOffice.getByText(`with a code from ${OWNER.name}`).waitFor();
  await backOffice.getByText("Away").waitFor();
  await page.getByRole("button", { name: "Disconnect Back office for good" }).click();
  await page.getByRole("group", { name: "Disconnect Back office?" }).waitFor();
  await shot(page, "dashboard-5-devices-disconnect");
  await a11y(page, "devices, disconnecting a server");
  await page.getByRole("button", { name: "Yes, disconnect Back office" }).click();
  await page.getByRole("status").filter({ hasText: "Back office is disconnected" }).waitFor();
  await backOffice.getByText("Disconnected for good").waitFor();
  // The counter's server is untouched.
  await page.locator('[data-node="Counter"]').getByText("Online").waitFor();

  // Sign out: back at the sign-in form.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test("a cashier's account is told plainly it has no stores to manage", async () => {
  const context = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await signIn(page, hub.base, CASHIER);
  await page.getByRole("alert").filter({ hasText: "This account has no stores to manage" }).waitFor();
  // And the hub itself refuses the cashier the merchant's pages.
  const login = await post(`${hub.base}/api/v1/auth/login`, { email: CASHIER.email, password: CASHIER.password });
  const r = await fetch(`${hub.base}/api/v1/stores/${STORE}/settings`, { method: "PUT", headers: { authorization: `Bearer ${login.body.access_token}`, "content-type": "application/json" }, body: "{}" });
  assert.equal(r.status, 403);
  await shot(page, "dashboard-6-cashier");
  await a11y(page, "the cashier's refusal");
  await context.close();
});

/** A store node's enrollment body: a fresh Ed25519 key and its proof over the code (docs/enrollment.md). */
function enrollment(code, label) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const public_key = publicKey.export({ format: "jwk" }).x;
  const normal = code.replace(/[-\s]/g, "").toUpperCase();
  const proof = sign(null, Buffer.from(`edge-enroll-v1\n${normal}\n${public_key}`), privateKey).toString("base64url");
  return { code, public_key, label, proof };
}
