// What the merchant dashboard's browser tests share: screen sizes, a deadline
// wait, hub calls with an Idempotency-Key, and signing in at /dashboard/.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Polls `check` every 100 ms until it returns a truthy value, or fails after `ms`. */
export async function until(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms / 1000} s`);
    await new Promise((ok) => setTimeout(ok, 100)); // polling interval, bounded by the deadline above
  }
}

/** A JSON call with a fresh Idempotency-Key (and `token` as bearer): its status and body. */
export async function call(method, url, body, token) {
  const headers = { "idempotency-key": randomUUID() };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

export const post = (url, body, token) => call("POST", url, body, token);

/** Opens the dashboard of the hub at `base` and signs `who` ({email, password}) in. */
export async function signIn(page, base, who) {
  await page.goto(`${base}/dashboard/`);
  await page.getByRole("heading", { name: "Store dashboard" }).waitFor();
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** A new organisation `name` at the hub, owned by `owner` ({email, password, name}) who accepted the invitation: its id. */
export async function ownedOrg(hub, name, owner) {
  const org = await hub.admin("POST", "/api/v1/admin/orgs", { name, owner_email: owner.email });
  assert.equal(org.status, 201, JSON.stringify(org.body));
  const joined = await post(`${hub.base}/api/v1/auth/accept-invitation`, { token: org.body.invitation.token, name: owner.name, password: owner.password });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  return org.body.id;
}

/** A new store `id` called `name` of organisation `orgId`, made by the platform admin. */
export async function orgStore(hub, orgId, id, name) {
  const store = await hub.admin("POST", "/api/v1/admin/stores", { id, name, org_id: orgId });
  assert.equal(store.status, 201, JSON.stringify(store.body));
}

/** A node token of store `id` for the store server called `label`. */
export async function nodeToken(hub, id, label = "Counter") {
  const token = await hub.admin("POST", `/api/v1/admin/stores/${id}/node-tokens`, { label });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  return token.body.token;
}

/** Waits until the hub's public menu of `store` takes online orders (its node synced the menu and is connected). */
export async function takingOrders(hub, store) {
  await until("the store taking online orders at the hub", async () => {
    const r = await fetch(`${hub.base}/api/v1/public/stores/${store}/menu`);
    return r.ok && (await r.json()).ordering.accepting;
  });
}
