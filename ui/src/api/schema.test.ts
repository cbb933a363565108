/** The committed client types must be what `npm run gen:api` makes of the committed OpenAPI
 * snapshot: a changed API is regenerated, never hand-edited. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ui = join(__dirname, "..", "..");

describe("generated API client", () => {
  it("matches the OpenAPI snapshot (run `npm run gen:api` after updating ui/openapi.json)", () => {
    const out = join(mkdtempSync(join(tmpdir(), "vocals-ui-")), "schema.d.ts");
    execFileSync(process.execPath, [join(ui, "node_modules", "openapi-typescript", "bin", "cli.js"), join(ui, "openapi.json"), "-o", out], { stdio: "pipe" });
    expect(readFileSync(join(ui, "src", "api", "schema.d.ts"), "utf8")).toBe(readFileSync(out, "utf8"));
  });
});
