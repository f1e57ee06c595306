// The node serves every built app, and an unbuilt path answers in JSON.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launch, startNode } from "../harness.mjs";

let node;
let browser;
before(async () => {
  node = await startNode();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await node?.stop();
});

for (const app of ["pos", "kds", "kiosk"]) {
  test(`${app} loads from the store node`, async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    const r = await page.goto(`${node.base}/${app}/`);
    assert.equal(r.status(), 200);
    await page.locator("#root > *").first().waitFor();
    assert.deepEqual(errors, []);
    await page.close();
  });
}
