// Test support for the browser tests: a real store node (the debug binary,
// demo data, its own temp database, port 0) serving the built apps, a real
// cloud hub (its own SQLite database, port 0) serving the customer app, the
// device simulators from `crates/drivers` (a ZVT card terminal, a virtual
// ESC/POS printer), and Debian's chromium driven by playwright-core. Never
// downloads a browser. Every process started here is killed when the test
// process exits, however it exits.
import { randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import assert from "node:assert/strict";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const screenshots = join(here, "screenshots");
mkdirSync(screenshots, { recursive: true });

const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME ?? "/root", ".cache/edge-target");
const debugBinary = (name) => join(target, "debug", name);

function nodeBinary() {
  return process.env.STORE_NODE_BIN ?? debugBinary("store-node");
}

/** Children still running: killed if the test process ends without stopping them. */
const children = new Set();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Resolves when `child` has exited (at once if it already has). */
function exited(child) {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", r)));
}

/**
 * Starts a store node with the demo menu and staff; resolves once it listens.
 * `env` adds environment variables, e.g. `{ STORE_NODE__PRINT__RETRY_BASE_MS: "50" }`
 * for print retries that give up within a second.
 */
export async function startNode({ env = {}, dataDir } = {}) {
  // A data dir the caller gives is the caller's: kept on stop, so a node can be started again on it.
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "e2e-node-"));
  const child = track(
    spawn(nodeBinary(), ["--demo", "--bind", "127.0.0.1:0", "--mqtt-bind", "127.0.0.1:0", "--data-dir", dir, "--web-dir", join(repo, "apps")], {
      env: { ...process.env, RUST_LOG: "warn", ...env },
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  const base = await listening(child, /^store-node listening on (\S+)/, "store node");
  return {
    base,
    dataDir: dir,
    async stop() {
      child.kill("SIGTERM");
      await exited(child);
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
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
    /** Registers a device as a manager would (`POST /api/v1/devices`); throws unless it is created. */
    async registerDevice(token, device) {
      const r = await this.api(token, "POST", "/api/v1/devices", device, randomUUID());
      if (r.status !== 201) throw new Error(`registering ${device.id}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.device;
    },
  };
}

/** The platform admin token of the hubs the tests start. */
export const HUB_ADMIN = "admin-token-for-e2e-tests-only";

/** Resolves with the first `re` match on `child`'s stdout, or fails after `ms` or when it exits. */
function listening(child, re, name, ms = 20_000) {
  const lines = createInterface({ input: child.stdout });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not start within ${ms / 1000} s`)), ms);
    child.once("exit", (code) => fail(new Error(`${name} exited with ${code}`)));
    lines.on("line", (l) => {
      const m = re.exec(l);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
}

/**
 * Starts a cloud hub (the debug binary, `CLOUD_HUB_BIN` to override) on a free
 * port with its own SQLite database, serving the built customer app at `/`;
 * resolves once it listens. `admin(method, path, body)` calls it as the platform admin.
 * `args` go on its command line (e.g. `["--node-grace-secs", "1"]`), `env` in its environment.
 * With `stripe` (a `startFakeStripe()`), card payments go to that fake: the hub's
 * port is chosen first, so its public URL (where the payment page sends customers
 * back) is its own base, and the fake's webhooks are pointed at it once it listens.
 */
export async function startHub({ env = {}, args = [], stripe } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "e2e-hub-"));
  let bind = "127.0.0.1:0";
  const extra = [...args];
  const extraEnv = { ...env };
  if (stripe) {
    bind = `127.0.0.1:${await closedPort()}`;
    extra.push("--stripe-api-base", stripe.base, "--public-url", `http://${bind}`);
    Object.assign(extraEnv, { STRIPE_SECRET_KEY: stripe.secretKey, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret });
  }
  const child = track(
    spawn(
      process.env.CLOUD_HUB_BIN ?? debugBinary("cloud-hub"),
      ["--bind", bind, "--database-url", `sqlite://${join(dir, "hub.db")}?mode=rwc`, "--web-dir", join(repo, "apps/customer/dist"), "--dashboard-dir", join(repo, "apps/dashboard/dist"), ...extra],
      { env: { ...process.env, RUST_LOG: "warn", HUB_ADMIN_TOKEN: HUB_ADMIN, ...extraEnv }, stdio: ["ignore", "pipe", "inherit"] },
    ),
  );
  const base = await listening(child, /^cloud-hub listening on (\S+)/, "cloud hub");
  if (stripe) await stripe.webhookTo(`${base}/api/v1/payments/stripe/webhook`);
  return {
    base,
    async admin(method, path, body) {
      const headers = { authorization: `Bearer ${HUB_ADMIN}`, "idempotency-key": randomUUID() };
      if (body !== undefined) headers["content-type"] = "application/json";
      const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
    /** Creates `store` (as the platform admin) and issues a node token for it; the token. */
    async enroll(store, name) {
      const s = await this.admin("POST", "/api/v1/admin/stores", { id: store, name });
      if (s.status !== 201) throw new Error(`creating store ${store}: ${s.status} ${JSON.stringify(s.body)}`);
      const t = await this.admin("POST", `/api/v1/admin/stores/${store}/node-tokens`, { label: "counter" });
      if (t.status !== 201) throw new Error(`node token for ${store}: ${t.status} ${JSON.stringify(t.body)}`);
      return t.body.token;
    },
    async stop() {
      child.kill("SIGTERM");
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Our fake of Stripe (`crates/fake-stripe`, the debug binary) on a free port,
 * with its own secret key and webhook signing secret; give it to `startHub({ stripe })`.
 * `ledger()` is every PaymentIntent with its amounts (`GET /_fake/ledger`);
 * `control(path, body)` POSTs to its `/_fake/…` test controls.
 */
export async function startFakeStripe() {
  const secretKey = `sk_test_e2e_${randomUUID().slice(0, 8)}`;
  const webhookSecret = `whsec_e2e_${randomUUID().slice(0, 8)}`;
  const tool = startTool(
    debugBinary("fake-stripe"),
    ["--bind", "127.0.0.1:0", "--secret-key", secretKey, "--webhook-secret", webhookSecret, "--webhook-retry-base-ms", "200"],
    { name: "fake-stripe" },
  );
  const [, base] = await tool.nextLine(/^fake-stripe listening on (\S+)/, 20_000);
  const control = async (path, body) => {
    const r = await fetch(`${base}/_fake/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body ?? {}),
    });
    if (!r.ok) throw new Error(`fake-stripe ${path}: ${r.status} ${await r.text()}`);
    const text = await r.text();
    return text ? JSON.parse(text) : null;
  };
  return {
    ...tool,
    base,
    secretKey,
    webhookSecret,
    control,
    /** Where the fake POSTs its signed Events from now on. */
    webhookTo: (url) => control("webhook-endpoint", { url }),
    async ledger() {
      return (await fetch(`${base}/_fake/ledger`)).json();
    },
    async deliveries() {
      return (await fetch(`${base}/_fake/deliveries`)).json();
    },
  };
}

/** The `env` of a demo store node that syncs as `store` with the hub at `hubBase`, with node token `token`. */
export function syncEnv(hubBase, store, token) {
  return {
    STORE_NODE__STORE__ID: store,
    STORE_NODE__HUB__URL: `${hubBase.replace(/^http/, "ws")}/api/v1/sync`,
    STORE_NODE__HUB__TOKEN: token,
  };
}

/**
 * Starts a helper binary and reads its stdout line by line. `nextLine(re)`
 * returns the first line after the last one it matched that matches `re`
 * (lines printed before the call count too, so nothing is missed), or fails
 * after `ms`. With `stdin: true` its standard input is a pipe: `send(line)`
 * writes a line to it, and `answer(line, re)` writes it and resolves with the
 * first line printed after it that matches `re` (without moving `nextLine`'s place).
 */
export function startTool(binary, args, { name = binary, stdin = false } = {}) {
  const child = track(spawn(binary, args, { stdio: [stdin ? "pipe" : "ignore", "pipe", "inherit"] }));
  // A write after the tool exited is reported by the wait for its answer, not as an unhandled error.
  child.stdin?.on("error", () => {});
  const lines = [];
  let waiters = [];
  let read = 0;
  let exit = null;
  createInterface({ input: child.stdout }).on("line", (l) => {
    lines.push(l);
    for (const w of waiters) w();
  });
  child.once("exit", (code, signal) => {
    exit = `${name} exited (${signal ?? code})`;
    for (const w of waiters) w();
  });
  child.once("error", (e) => {
    exit = `${name} could not start: ${e.message}`;
    for (const w of waiters) w();
  });
  return {
    child,
    lines,
    nextLine(re, ms = 10_000) {
      return lineFrom(read, re, ms, (i) => (read = i + 1));
    },
    send(line) {
      if (!child.stdin) throw new Error(`${name} was started without a standard input to write to`);
      child.stdin.write(`${line}\n`);
    },
    answer(line, re, ms = 10_000) {
      const from = lines.length;
      this.send(line);
      return lineFrom(from, re, ms, () => {});
    },
    async stop() {
      child.kill("SIGTERM");
      await exited(child);
    },
  };

  /** The first line at index `from` or later matching `re` (`seen(i)` told its index), or a failure after `ms`. */
  function lineFrom(from, re, ms, seen) {
    return new Promise((ok, fail) => {
      const check = () => {
        for (let i = from; i < lines.length; i++) {
          const m = re.exec(lines[i]);
          if (m) {
            seen(i);
            done();
            ok(m);
            return;
          }
        }
        if (exit) {
          done();
          fail(new Error(`${exit} before printing a line like ${re}; it printed:\n${lines.join("\n")}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        fail(new Error(`${name} printed no line like ${re} within ${ms} ms; it printed:\n${lines.join("\n")}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        waiters = waiters.filter((w) => w !== check);
      };
      waiters.push(check);
      check();
    });
  }
}

/**
 * The simulated ZVT card terminal on a new pseudo terminal, playing `scenario`
 * (approve, decline, timeout, cancel, busy, garbage) for every payment.
 * `pty` is the device path to register it with.
 */
export async function startZvtSim(scenario = "approve") {
  const tool = startTool(debugBinary("zvt-sim"), ["--pty", "--scenario", scenario], { name: `zvt-sim (${scenario})` });
  const [, pty] = await tool.nextLine(/^zvt-sim: listening on pty (\S+)/);
  return {
    ...tool,
    pty,
    /** The sim's line about the next payment it handled, e.g. "amount 12.34 currency 840: approved trace ...". */
    nextPayment: (ms) => tool.nextLine(/^amount (\d+\.\d\d) currency (\d+): (.*)$/, ms),
  };
}

/**
 * The virtual ESC/POS printer on 127.0.0.1 (a free port), saving every job
 * as a PNG in `out` (a new temp folder unless given); `flags` such as
 * `--paper-out` or `--cover-open` make it report a problem.
 */
export async function startVirtualPrinter(name = "printer", { out, flags = [] } = {}) {
  const ownDir = !out;
  out ??= mkdtempSync(join(tmpdir(), `e2e-printer-${name}-`));
  const tool = startTool(debugBinary("virtual-printer"), ["--tcp", "127.0.0.1:0", "--name", name, "--out", out, ...flags], {
    name: `virtual-printer ${name}`,
    stdin: true,
  });
  const [, host, port] = await tool.nextLine(/^virtual printer \S+ listening on (\S+):(\d+)$/);
  return {
    ...tool,
    host,
    port: Number(port),
    out,
    transport: { type: "tcp", host, port: Number(port) },
    /**
     * The next printed job with paper in it (a job that only opened the
     * drawer is skipped): its number, line count and PNG path.
     */
    async nextPrint(ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const left = Math.max(1, deadline - Date.now());
        const m = await tool.nextLine(/^printed job (\d+) \((\d+) lines?(, drawer kick)?\)(?: -> (.+))?$/, left);
        if (Number(m[2]) > 0) return { number: Number(m[1]), lines: Number(m[2]), png: m[4] ?? null, drawer: Boolean(m[3]) };
      }
    },
    /**
     * What the running printer reports to status requests from now on:
     * "paper-out", "paper-low", "cover-open" or "ok". Resolves once the printer
     * has confirmed it (its next status reply says so).
     */
    async setStatus(status) {
      if (!["paper-out", "paper-low", "cover-open", "ok"].includes(status)) throw new Error(`setStatus: no status ${status}`);
      await tool.answer(status, new RegExp(`^status ${status}$`));
    },
    async stop() {
      await tool.stop();
      if (ownDir) rmSync(out, { recursive: true, force: true });
    },
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, read, closed). */
export async function closedPort() {
  const server = createServer();
  await new Promise((ok, fail) => server.once("error", fail).listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** How the tests start Debian's chromium: headless, with the flags this machine needs. */
const CHROMIUM = {
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
};

/** Debian's chromium, headless, with the flags this machine needs. */
export async function launch() {
  return chromium.launch(CHROMIUM);
}

/**
 * Debian's chromium with a profile of its own (a new temp folder, removed on
 * close) instead of the incognito contexts `launch()` gives: what a web app
 * install needs (Chromium reports "in-incognito" otherwise). `options` are
 * the context's (viewport, isMobile, ...).
 */
export async function launchProfile(options = {}) {
  const dir = mkdtempSync(join(tmpdir(), "e2e-chromium-"));
  // Removed on close, and when the test process exits without closing it (a failed test).
  const remove = () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* chromium still writing as the process ends: the temp folder stays */
    }
  };
  process.once("exit", remove);
  const context = await chromium.launchPersistentContext(dir, { ...CHROMIUM, ...options });
  const close = context.close.bind(context);
  context.close = async (...a) => {
    await close(...a);
    remove();
  };
  return context;
}

export async function shot(page, name) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: false });
}

/** axe-core's browser build, read once. */
let axeSource;

/**
 * Checks what `page` shows now with axe-core against the WCAG 2.0 and 2.1 A
 * and AA rules, and fails listing every serious or critical violation of
 * `screen` (rule, what it asks, and the elements, as selectors). Minor and
 * moderate findings (e.g. best-practice heading order) do not fail.
 */
export async function a11y(page, screen) {
  axeSource ??= readFileSync(join(dirname(createRequire(import.meta.url).resolve("axe-core")), "axe.min.js"), "utf8");
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.targets.join(", ")}`),
    [],
    `accessibility problems on ${screen}`,
  );
}

/** Opens the POS at `base`, signs in, and waits until the event stream is live. */
export async function signInPos(page, base, name, pin) {
  await page.goto(`${base}/pos/`);
  await page.getByRole("heading", { name: "POS — sign in" }).waitFor();
  await pinSignIn(page, name, pin);
  await page.getByTestId("signed-in").filter({ hasText: name }).waitFor();
  await page.locator('[data-testid="link-status"][data-status="live"]').waitFor();
}

/** Signs in on the shared sign-in screen: the staff member's tile, then the PIN on the pad. */
export async function pinSignIn(page, name, pin) {
  await page.getByRole("button", { name: new RegExp(name) }).click();
  for (const d of pin) await page.getByRole("button", { name: `digit ${d}`, exact: true }).click();
  await page.getByRole("button", { name: "OK", exact: true }).click();
}
