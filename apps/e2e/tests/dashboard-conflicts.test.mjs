// A price changed in two places while the store was offline, settled from the
// dashboard. A real hub serves the dashboard; a real store node syncs with it.
// The node goes offline (restarted on its data with the hub's address pointing
// at a closed port) and its manager sets the fries to 4.75 over the node's menu
// API, while the owner sets them to 5.25 in the dashboard. The node comes back
// (restarted with the hub's real address) and syncs; both ends show the same
// one of the two prices, and the Menu page shows both in plain words with a
// button for each; the owner keeps the other one; the box goes away, the hub
// has no conflict left, and the node's menu sells the fries at the kept price. Screenshots and axe-core on the page with the box.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { a11y, closedPort, launch, shot, startHub, startNode, syncEnv } from "../harness.mjs";
import { LAPTOP, nodeToken as counterToken, orgStore, ownedOrg, post, signIn, until as untilWithin } from "../dashboard.mjs";

/** Waits up to 30 s: this test restarts the node, which takes longer under load. */
const until = (what, check) => untilWithin(what, check, 30_000);

const STORE = "quay-street";
const OWNER = { email: "quinn.owner@example.com", password: "owner-password-456", name: "Quinn Owner" };
const FRIES = "shoestring-fries";

let hub;
let node;
let browser;
let nodeToken;
let ownerToken;
const nodeData = mkdtempSync(join(tmpdir(), "e2e-node-conflicts-"));

before(async () => {
  hub = await startHub();
  const orgId = await ownedOrg(hub, "Quay Street Food", OWNER);
  await orgStore(hub, orgId, STORE, "Quay Street Kitchen");
  nodeToken = await counterToken(hub, STORE);
  const login = await post(`${hub.base}/api/v1/auth/login`, { email: OWNER.email, password: OWNER.password });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  ownerToken = login.body.access_token;
  node = await startNode({ dataDir: nodeData, env: syncEnv(hub.base, STORE, nodeToken) });
  browser = await launch();
  // The node's menu has reached the hub.
  await until("the store's menu at the hub", async () => (await hubPrice(FRIES)) === 450);
});
after(async () => {
  await browser?.close();
  await node?.stop();
  await hub?.stop();
  rmSync(nodeData, { recursive: true, force: true });
});

async function hubGet(path) {
  const r = await fetch(`${hub.base}${path}`, { headers: { authorization: `Bearer ${ownerToken}` } });
  return { status: r.status, body: await r.json() };
}

/** The price of `item` in the hub's menu (what the dashboard edits), or undefined. */
async function hubPrice(item) {
  const r = await hubGet(`/api/v1/stores/${STORE}/menu`);
  return r.status === 200 ? r.body.menu.items.find((i) => i.id === item)?.price : undefined;
}

/** The node's menu item `item`, as its staff API shows it. */
async function nodeItem(manager, item) {
  const r = await node.api(manager, "GET", "/api/v1/menu");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.menu.items.find((i) => i.id === item);
}

test("a price changed at the store and at the hub while apart: the owner sees both and keeps one", async () => {
  // Apart: the node runs on, but the hub it dials is not there.
  await node.stop();
  node = await startNode({ dataDir: nodeData, env: syncEnv(`http://127.0.0.1:${await closedPort()}`, STORE, nodeToken) });
  const manager = await node.token("manager", "2000");
  const sync = await node.api(manager, "GET", "/api/v1/sync/status");
  assert.equal(sync.status, 200, JSON.stringify(sync.body));
  assert.equal(sync.body.connected, false, "the node is offline");
  // At the store: the manager sets the fries to 4.75.
  const fries = await nodeItem(manager, FRIES);
  const edited = await node.api(manager, "PUT", `/api/v1/menu/items/${FRIES}`, { ...fries, price: 475 }, randomUUID());
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  assert.equal((await nodeItem(manager, FRIES)).price, 475);

  // At the hub: the owner sets them to 5.25 in the dashboard.
  const context = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await signIn(page, hub.base, OWNER);
  await page.getByRole("link", { name: "Menu" }).click();
  const price = page.getByLabel("Price of Shoestring Fries");
  assert.equal(await price.inputValue(), "4.50");
  await price.fill("5.25");
  await page.getByRole("button", { name: "Save menu" }).click();
  await page.getByRole("status").filter({ hasText: "Menu saved" }).waitFor();
  const box = page.getByRole("region", { name: "Changed in two places while the store was offline" });
  assert.equal(await box.count(), 0, "nothing to choose yet");

  // Together again: the node dials the real hub and the two edits merge.
  await node.stop();
  node = await startNode({ dataDir: nodeData, env: syncEnv(hub.base, STORE, nodeToken) });
  const conflict = await until("the hub to list the conflict", async () => {
    const r = await hubGet(`/api/v1/stores/${STORE}/menu/conflicts`);
    return r.status === 200 && r.body.conflicts.length === 1 && r.body.conflicts[0];
  });
  // Both ends show the same one of the two prices for now (automerge's winner); the
  // owner keeps the other, so the node's menu changing proves the choice reached it.
  const shown = conflict.values.find((v) => v.shown).value;
  const kept = shown === 475 ? 525 : 475;
  const keptText = `$${(kept / 100).toFixed(2)}`;
  let manager2 = await node.token("manager", "2000");
  await until("the node's menu to show the same price as the hub", async () => (await nodeItem(manager2, FRIES)).price === shown);
  assert.equal(await hubPrice(FRIES), shown);

  // The Menu page shows both prices and where each was set.
  await page.reload();
  await box.waitFor();
  const sentence = box.getByRole("listitem").locator("p");
  assert.equal((await sentence.innerText()).replace(/\s+/g, " "), "Price of Shoestring Fries — here $5.25, at the store $4.75");
  await box.getByRole("button", { name: "Keep $4.75" }).waitFor();
  await box.getByRole("button", { name: "Keep $5.25" }).waitFor();
  assert.equal(await page.getByText("shoestring-fries").count(), 0, "no ids on screen");
  await shot(page, "dashboard-conflicts-1-both-prices");
  await a11y(page, "the menu with a conflict");

  // The owner keeps the price nobody sees now: the box goes, the page shows it.
  await box.getByRole("button", { name: `Keep ${keptText}` }).click();
  await page.getByRole("status").filter({ hasText: `Kept ${keptText} for the price of Shoestring Fries` }).waitFor();
  await box.waitFor({ state: "detached" });
  await until("the price field to show the kept price", async () => (await price.inputValue()) === keptText.slice(1));
  await shot(page, "dashboard-conflicts-2-settled");
  await a11y(page, "the menu after choosing");

  // Settled at the hub, and the node sells the fries at the kept price.
  const left = await hubGet(`/api/v1/stores/${STORE}/menu/conflicts`);
  assert.deepEqual(left.body.conflicts, []);
  assert.equal(await hubPrice(FRIES), kept);
  manager2 = await node.token("manager", "2000");
  await until("the node's menu to have the kept price", async () => (await nodeItem(manager2, FRIES)).price === kept);
  assert.deepEqual(errors, []);
  await context.close();
});
