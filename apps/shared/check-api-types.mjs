// Fails when a generated API types file is not what openapi-typescript makes of
// its committed OpenAPI document (regenerate both with `npm run gen:api`):
// apps/shared/src/schema.d.ts from store-node/openapi.json, and
// apps/shared/src/hub-schema.d.ts from cloud-hub/openapi.json.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GENERATED = [
  { document: "store-node/openapi.json", types: "apps/shared/src/schema.d.ts" },
  { document: "cloud-hub/openapi.json", types: "apps/shared/src/hub-schema.d.ts" },
];

const dir = mkdtempSync(join(tmpdir(), "api-types-"));
let stale = 0;
for (const [i, { document, types }] of GENERATED.entries()) {
  const out = join(dir, `${i}.d.ts`);
  execFileSync("npx", ["openapi-typescript", document, "-o", out], { stdio: "ignore" });
  if (readFileSync(out, "utf8") !== readFileSync(types, "utf8")) {
    console.error(`${types} is stale: not what openapi-typescript makes of ${document}; run \`npm run gen:api\` and commit it`);
    stale += 1;
  }
}
if (stale > 0) process.exit(1);
console.log(`API types are current (${GENERATED.map((g) => g.types).join(", ")})`);
