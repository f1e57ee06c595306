// Front-end figures for BENCHMARKS.md: each app's bundle size (raw and gzip)
// and its time to first render against a demo node, in Debian's chromium.
//   node apps/e2e/bench.mjs [runs]      (build the apps first: npm run build)
// Time to first render = navigation start to first contentful paint, and to
// the app's first real screen (the sign-in screen's staff tiles), each load in
// a fresh browser context (nothing cached), on loopback.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { launch, repo, startNode } from "./harness.mjs";

const runs = Number(process.argv[2] ?? 10);
const apps = ["pos", "kds", "kiosk"];

function bundle(app) {
  const dir = join(repo, "apps", app, "dist", "assets");
  let raw = 0;
  let gz = 0;
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (!statSync(p).isFile() || !/\.(js|css)$/.test(f)) continue;
    const b = readFileSync(p);
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  return { raw, gz };
}

const pct = (xs, q) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

const node = await startNode();
const browser = await launch();
console.log(`| app | JS+CSS raw | gzip | first contentful paint p50 / p90 | first screen p50 / p90 |`);
console.log(`|---|---|---|---|---|`);
for (const app of apps) {
  const { raw, gz } = bundle(app);
  const fcp = [];
  const ready = [];
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const start = Date.now();
    await page.goto(`${node.base}/${app}/`);
    await page.locator(".staff-tile").first().waitFor();
    ready.push(Date.now() - start);
    fcp.push(
      await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? Number.NaN),
    );
    await ctx.close();
  }
  const f = (xs) => `${pct(xs, 0.5).toFixed(0)} / ${pct(xs, 0.9).toFixed(0)} ms`;
  console.log(`| ${app} | ${kb(raw)} | ${kb(gz)} | ${f(fcp)} | ${f(ready)} |`);
}
await browser.close();
await node.stop();
