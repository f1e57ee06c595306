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
