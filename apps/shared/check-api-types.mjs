// Fails when apps/shared/src/schema.d.ts is not what openapi-typescript makes of
// the committed store-node/openapi.json (regenerate with `npm run gen:api`).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const out = join(mkdtempSync(join(tmpdir(), "api-types-")), "schema.d.ts");
execFileSync("npx", ["openapi-typescript", "store-node/openapi.json", "-o", out], { stdio: "ignore" });
const fresh = readFileSync(out, "utf8");
const committed = readFileSync("apps/shared/src/schema.d.ts", "utf8");
if (fresh !== committed) {
  console.error("apps/shared/src/schema.d.ts is stale: run `npm run gen:api` and commit it");
  process.exit(1);
}
console.log("API types are current");
