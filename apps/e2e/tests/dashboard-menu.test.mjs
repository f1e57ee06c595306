// The menu editor in a real browser: the merchant dashboard at a real cloud
// hub, a real store node syncing with it. The owner is told in words that a
// category with items must be emptied before it goes; adds a category "Bowls",
// puts it before Kids, adds a Poké Bowl to it (tax class and kitchen station
// chosen in words, a choice group ticked), renames the Margherita, removes the
// Kids Milk after saying yes to the question. The Save button counts the four
// changes; leaving the page, switching store or closing the tab first asks.
// After saving, the node's menu (its staff API) and the hub's customer menu
// show exactly those changes and nothing else. Screenshots at laptop and
// phone size; axe-core on each state.
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { after, before, test } from "node:test";
import { a11y, launch, shot, startHub, startNode, syncEnv } from "../harness.mjs";
import { LAPTOP, nodeToken, orgStore, ownedOrg, PHONE, signIn, takingOrders, until } from "../dashboard.mjs";

const STORE = "quay-lane";
const OWNER = { email: "quinn.owner@example.com", password: "owner-password-123", name: "Quinn Owner" };

/** Fails if the page at its present size scrolls sideways. */
async function noSideways(page, screen) {
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
  assert.ok(scroll <= inner, `${screen} scrolls sideways: ${scroll} px in ${inner} px`);
}

let hub;
let node;
let browser;
let manager;
before(async () => {
  hub = await startHub();
  const orgId = await ownedOrg(hub, "Quay Lane Foods", OWNER);
  await orgStore(hub, orgId, STORE, "Quay Lane Kitchen");
  // A second store of the organisation, to switch to (it sorts after the first, where the dashboard opens).
  await orgStore(hub, orgId, "quay-wharf", "Quay Lane Wharf");
  const token = await nodeToken(hub, STORE);
  node = await startNode({ env: syncEnv(hub.base, STORE, token) });
  browser = await launch();
  manager = await node.token("manager", "2000");
  // The node syncs its menu up and the hub sees it connected.
  await takingOrders(hub, STORE);
});
after(async () => {
  await browser?.close();
  await node?.stop();
  await hub?.stop();
});

/** The node's menu, as its staff API shows it. */
async function nodeMenu() {
  const r = await node.api(manager, "GET", "/api/v1/menu");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.menu;
}

/** The customer menu at the hub. */
async function customerMenu() {
  const r = await fetch(`${hub.base}/api/v1/public/stores/${STORE}/menu`);
  assert.equal(r.status, 200);
  return (await r.json()).menu;
}

test("an owner adds a category and an item, renames one, removes one: the node and the customer menu show exactly that", async () => {
  const before = await nodeMenu();
  assert.ok(before.items.some((i) => i.id === "kids-milk") && before.items.some((i) => i.id === "margherita-pizza"));
  assert.deepEqual(
    before.categories.map((c) => c.id),
    ["burgers", "pizza", "salads-sides", "desserts", "drinks", "kids"],
  );

  const context = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("dialog", (d) => {
    errors.push(new Error(`unexpected browser dialog: ${d.type()} ${d.message()}`));
    void d.dismiss();
  });

  // Sign in and open the menu.
  await signIn(page, hub.base, OWNER);
  await page.getByRole("link", { name: "Menu" }).click();
  await page.getByRole("heading", { name: "Categories" }).waitFor();
  const save = page.getByRole("button", { name: /^Save menu/ });
  assert.equal(await save.innerText(), "Save menu");
  assert.ok(await save.isDisabled(), "nothing to save yet");
  // Tax classes in words, not ids.
  const tax = page.getByLabel("Tax class of Shoestring Fries");
  assert.deepEqual(await tax.locator("option").allInnerTexts(), ["Prepared food 8.25%", "Beverages 9%"]);
  await shot(page, "dashboard-menu-1-editor");
  await a11y(page, "the menu editor");

  // A category with items cannot go: the page says what to do first.
  await page.getByRole("button", { name: "Remove Burgers" }).click();
  const refusal = page.locator('[data-category="burgers"]').getByRole("alert");
  await refusal.waitFor();
  assert.equal(await refusal.innerText(), "Burgers still has 7 items. Move them to another category or remove them first, then remove the category.");
  assert.ok(await save.isDisabled(), "the refusal changed nothing");
  await shot(page, "dashboard-menu-2-category-refused");
  await a11y(page, "the menu with a category refused");

  // A new category, put before Kids.
  await page.getByLabel("Name of a new category").fill("Bowls");
  await page.getByRole("button", { name: "Add the category" }).click();
  await page.getByRole("heading", { name: "Bowls" }).waitFor();
  await page.getByRole("button", { name: "Move Bowls up" }).click();
  assert.deepEqual(
    await page.locator(".category-row input").evaluateAll((inputs) => inputs.map((i) => i.value)),
    ["Burgers", "Pizza", "Salads & Sides", "Desserts", "Drinks", "Bowls", "Kids"],
  );

  // A new item in it: tax class and station chosen by their names, one choice group.
  await page.getByRole("button", { name: "Add an item" }).click();
  const form = page.getByRole("form", { name: "Add an item" });
  await form.getByRole("button", { name: "Add the item" }).click();
  await form.getByText("Type a name.").waitFor(); // nothing typed yet: told, not added
  await form.getByLabel("Name of the new item").fill("Poké Bowl");
  await form.getByLabel("Category of the new item").selectOption({ label: "Bowls" });
  await form.getByLabel("Price of the new item").fill("13.75");
  await form.getByLabel("Tax class of the new item").selectOption({ label: "Prepared food 8.25%" });
  await form.getByLabel("Kitchen station of the new item").selectOption({ label: "Grill" });
  await form.getByLabel("Description of the new item").fill("Sushi rice, salmon, avocado, edamame and sesame.");
  await form.getByLabel("Add Protein").check();
  await shot(page, "dashboard-menu-3-new-item");
  await a11y(page, "the add-an-item form");
  await form.getByRole("button", { name: "Add the item" }).click();
  const bowl = page.locator('[data-item="poke-bowl"]');
  await bowl.getByText("New, not saved yet").waitFor();
  assert.equal(await bowl.getByLabel("Price of Poké Bowl").inputValue(), "13.75");

  // Rename the Margherita.
  const margherita = page.locator('[data-item="margherita-pizza"]');
  await margherita.getByRole("button", { name: "More about Margherita" }).click();
  await margherita.getByLabel("Name of Margherita").fill("Margherita Classica");
  await margherita.getByText("Margherita Classica", { exact: true }).waitFor();

  // Remove the Kids Milk, after saying yes in words.
  const milk = page.locator('[data-item="kids-milk"]');
  await milk.getByRole("button", { name: "More about Kids Milk" }).click();
  await milk.getByRole("button", { name: "Remove Kids Milk" }).click();
  await milk.getByText("Remove Kids Milk from the menu? When you save, it goes from the tills, the kiosk and the online menu.").waitFor();
  await milk.scrollIntoViewIfNeeded();
  await shot(page, "dashboard-menu-4-remove-asked");
  await a11y(page, "the menu asking before removing an item");
  await milk.getByRole("button", { name: "Yes, remove Kids Milk" }).click();
  await milk.waitFor({ state: "detached" });

  // Four changes wait: the category (in its place), the bowl, the new name, the milk gone.
  assert.equal(await save.innerText(), "Save menu (4 changes)");
  await page.getByText("4 changes are not saved yet.").waitFor();

  // Leaving the page asks first; staying keeps every change.
  await page.getByRole("link", { name: "Settings" }).click();
  const ask = page.getByRole("alertdialog", { name: "Leave the menu without saving?" });
  await ask.waitFor();
  await ask.getByText("4 changes to the menu are not saved. They are lost if you go on.").waitFor();
  await shot(page, "dashboard-menu-5-leave-asked");
  await a11y(page, "the question before leaving with changes");
  await ask.getByRole("button", { name: "Stay and keep editing" }).click();
  await ask.waitFor({ state: "detached" });
  assert.equal(await page.getByRole("link", { name: "Menu" }).getAttribute("aria-current"), "page");
  assert.equal(await save.innerText(), "Save menu (4 changes)");

  // Switching store asks too; staying keeps this store and its changes.
  const switcher = page.getByRole("combobox", { name: "Store", exact: true });
  assert.equal(await switcher.inputValue(), STORE);
  await switcher.selectOption({ label: "Quay Lane Wharf" });
  const askSwitch = page.getByRole("alertdialog", { name: "Switch store without saving the menu?" });
  await askSwitch.waitFor();
  await askSwitch.getByRole("button", { name: "Stay and keep editing" }).click();
  await askSwitch.waitFor({ state: "detached" });
  assert.equal(await switcher.inputValue(), STORE);
  assert.equal(await save.innerText(), "Save menu (4 changes)");
  // Closing the tab or reloading: the page has the browser ask (a cancelled beforeunload).
  const asksBrowser = () =>
    page.evaluate(() => {
      const e = new Event("beforeunload", { cancelable: true });
      dispatchEvent(e);
      return e.defaultPrevented;
    });
  assert.equal(await asksBrowser(), true);

  // Nothing reached the node before saving.
  assert.deepEqual(await nodeMenu(), before);

  await save.click();
  await page.getByRole("status").filter({ hasText: "Menu saved (4 changes)" }).waitFor();
  assert.equal(await save.innerText(), "Save menu");
  assert.equal(await asksBrowser(), false, "nothing waits: leaving does not ask");
  assert.equal(await bowl.getByText("New, not saved yet").count(), 0);
  await page.getByRole("heading", { name: "Bowls" }).scrollIntoViewIfNeeded();
  await shot(page, "dashboard-menu-6-saved");
  await a11y(page, "the menu after saving");

  // Exactly those changes, at the node and in the customer menu.
  const categories = [...before.categories.slice(0, 5), { id: "bowls", name: "Bowls" }, before.categories[5]];
  const items = [
    ...before.items.filter((i) => i.id !== "kids-milk").map((i) => (i.id === "margherita-pizza" ? { ...i, name: "Margherita Classica" } : i)),
    {
      id: "poke-bowl",
      sku: "poke-bowl",
      name: "Poké Bowl",
      description: "Sushi rice, salmon, avocado, edamame and sesame.",
      category: "bowls",
      price: 1375,
      tax_class: "food",
      station: "grill",
      sold_out: false,
      modifier_groups: ["salad-protein"],
    },
  ];
  const expected = { ...before, categories, items };
  await until("the node's menu to show the edits", async () => isDeepStrictEqual(await nodeMenu(), expected));
  assert.deepEqual(await nodeMenu(), expected);
  assert.deepEqual(await customerMenu(), expected);

  // At phone size: the categories, an item open and the add form fit; nothing sideways.
  await page.setViewportSize(PHONE);
  await page.getByRole("heading", { name: "Categories" }).scrollIntoViewIfNeeded();
  await noSideways(page, "the menu editor at phone size");
  await shot(page, "dashboard-menu-7-phone-categories");
  await a11y(page, "the menu editor at phone size");
  await bowl.getByRole("button", { name: "More about Poké Bowl" }).click();
  await bowl.getByLabel("Name of Poké Bowl").waitFor();
  await bowl.scrollIntoViewIfNeeded();
  await noSideways(page, "an open item at phone size");
  await shot(page, "dashboard-menu-8-phone-item");
  await a11y(page, "an open item at phone size");
  await page.getByRole("button", { name: "Add an item" }).click();
  await form.scrollIntoViewIfNeeded();
  await noSideways(page, "the add-an-item form at phone size");
  await shot(page, "dashboard-menu-9-phone-new-item");
  await a11y(page, "the add-an-item form at phone size");

  assert.deepEqual(errors, []);
  await context.close();
});
