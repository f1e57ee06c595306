// Test support for the browser tests: a real store node (the debug binary,
// demo data, its own temp database, port 0) serving the built apps, and
// Debian's chromium driven by playwright-core. Never downloads a browser.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const screenshots = join(here, "screenshots");
mkdirSync(screenshots, { recursive: true });

function nodeBinary() {
  const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME ?? "/root", ".cache/edge-target");
  return process.env.STORE_NODE_BIN ?? join(target, "debug", "store-node");
}

/** Starts a store node with the demo menu and staff; resolves once it listens. */
export async function startNode() {
  const dir = mkdtempSync(join(tmpdir(), "e2e-node-"));
  const child = spawn(nodeBinary(), ["--demo", "--bind", "127.0.0.1:0", "--mqtt-bind", "127.0.0.1:0", "--data-dir", dir, "--web-dir", join(repo, "apps")], {
    env: { ...process.env, RUST_LOG: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("store node did not start within 20 s")), 20_000);
    child.once("exit", (code) => fail(new Error(`store node exited with ${code}`)));
    lines.on("line", (l) => {
      const m = /^store-node listening on (\S+)/.exec(l);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
  return {
    base,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
    /** Signs in over the API (for setting up state a test does not drive through the UI). */
    async token(staff, pin) {
      const r = await fetch(`${base}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ staff_id: staff, pin }),
      });
      if (!r.ok) throw new Error(`login ${staff}: ${r.status}`);
      return (await r.json()).token;
    },
    async api(token, method, path, body, key) {
      const headers = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers["content-type"] = "application/json";
      if (key) headers["idempotency-key"] = key;
      const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
  };
}

/** Debian's chromium, headless, with the flags this machine needs. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: false });
}

/** Signs in on the shared sign-in screen: the staff member's tile, then the PIN on the pad. */
export async function pinSignIn(page, name, pin) {
  await page.getByRole("button", { name: new RegExp(name) }).click();
  for (const d of pin) await page.getByRole("button", { name: `digit ${d}`, exact: true }).click();
  await page.getByRole("button", { name: "OK", exact: true }).click();
}
