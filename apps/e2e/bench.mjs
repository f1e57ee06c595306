// Front-end figures for BENCHMARKS.md: each app's bundle size (raw and gzip)
// and its time to first render against a demo node (the store apps) or a hub
// with that node syncing (the customer app, at phone size; the merchant dashboard,
// at laptop size, signed in, to its live overview), in Debian's chromium.
//   node apps/e2e/bench.mjs [runs]      (build the apps first: npm run build)
// Time to first render = navigation start to first contentful paint, and to
// the app's first real screen (the sign-in screen's staff tiles; for the
// customer app the list of stores; for the dashboard the overview's store card),
// each load in a fresh browser context
// (nothing cached, no service worker yet), on loopback.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { launch, repo, startHub, startNode, syncEnv } from "./harness.mjs";

const runs = Number(process.argv[2] ?? 10);
const apps = ["pos", "kds", "kiosk", "customer", "dashboard"];

/** Every JS and CSS file of the app's build; `first`: only those its index.html loads (not lazy chunks). */
function bundle(app, { first = false } = {}) {
  const dir = join(repo, "apps", app, "dist", "assets");
  const html = readFileSync(join(repo, "apps", app, "dist", "index.html"), "utf8");
  let raw = 0;
  let gz = 0;
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (!statSync(p).isFile() || !/\.(js|css)$/.test(f)) continue;
    if (first && !html.includes(`assets/${f}`)) continue;
    const b = readFileSync(p);
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  return { raw, gz };
}

const pct = (xs, q) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

const hub = await startHub();
const node = await startNode({ env: syncEnv(hub.base, "bench-store", await hub.enroll("bench-store", "Bench Street")) });
for (const deadline = Date.now() + 30_000; ; ) {
  const r = await fetch(`${hub.base}/api/v1/public/stores`);
  if (r.ok && (await r.json()).stores.length > 0) break;
  if (Date.now() > deadline) throw new Error("the hub never listed the store");
  await new Promise((ok) => setTimeout(ok, 100)); // polling interval, bounded by the deadline above
}
// The dashboard's owner: an organisation owning the bench store, signed in on each fresh context.
const owner = { email: "bench.owner@example.com", password: "bench-owner-password-1" };
const json = (r) => r.json();
const org = await hub.admin("POST", "/api/v1/admin/orgs", { name: "Bench Foods", owner_email: owner.email });
const accept = await fetch(`${hub.base}/api/v1/auth/accept-invitation`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ token: org.body.invitation.token, name: "Bench Owner", password: owner.password }),
}).then(json);
await hub.admin("POST", "/api/v1/admin/stores", { id: "bench-store-2", name: "Bench Street Two", org_id: org.body.id });
const browser = await launch();
const where = {
  customer: { url: () => `${hub.base}/`, ready: ".store-card", viewport: { width: 390, height: 844 } },
  dashboard: {
    url: () => `${hub.base}/dashboard/`,
    ready: ".store-card",
    viewport: { width: 1280, height: 800 },
    init: { access: accept.access_token, refresh: accept.refresh_token, email: owner.email },
  },
};
console.log(`| app | JS+CSS raw | gzip | first contentful paint p50 / p90 | first screen p50 / p90 |`);
console.log(`|---|---|---|---|---|`);
for (const app of apps) {
  const { raw, gz } = bundle(app);
  const fcp = [];
  const ready = [];
  for (let i = 0; i < runs; i++) {
    const w = where[app] ?? { url: () => `${node.base}/${app}/`, ready: ".staff-tile", viewport: { width: 1280, height: 800 } };
    const ctx = await browser.newContext({ viewport: w.viewport });
    if (w.init) await ctx.addInitScript((a) => localStorage.setItem("edge.dashboard.account", JSON.stringify(a)), w.init);
    const page = await ctx.newPage();
    const start = Date.now();
    await page.goto(w.url());
    await page.locator(w.ready).first().waitFor();
    ready.push(Date.now() - start);
    fcp.push(
      await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? Number.NaN),
    );
    await ctx.close();
  }
  const f = (xs) => `${pct(xs, 0.5).toFixed(0)} / ${pct(xs, 0.9).toFixed(0)} ms`;
  console.log(`| ${app} | ${kb(raw)} | ${kb(gz)} | ${f(fcp)} | ${f(ready)} |`);
}
const first = bundle("dashboard", { first: true });
console.log(`\nThe dashboard's first load (index.html's files, without the lazily loaded sales page): ${kb(first.raw)}, gzip ${kb(first.gz)}.`);
await browser.close();
await node.stop();
await hub.stop();
