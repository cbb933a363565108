/** What a call cost and what its post-call analysis found, in Chromium against the `vocals
 * serve` of tests/ui/test_browser.py: the finished call seeded there is analysed by the server's
 * post-call worker with the agent's offline scripted dialogue, and priced; the tenant edits its
 * prices. */
import { expect, test } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const email = process.env.VOCALS_E2E_EMAIL ?? "owner@acme.test";
const password = process.env.VOCALS_E2E_PASSWORD ?? "";
const callId = process.env.VOCALS_E2E_CALL_ID ?? "";
const artifacts = process.env.VOCALS_E2E_ARTIFACTS ?? "../test-artifacts/ui";
mkdirSync(artifacts, { recursive: true });

test.skip(!callId, "run by tests/ui/test_browser.py, which seeds the call");

test("a call's analysis and cost on its page, the list and analytics; prices edited", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("link", { name: "Prices" })).toBeVisible();

  await page.goto(`/calls/${callId}`);
  const analysis = page.getByLabel("Post-call analysis");
  // The scripted dialogue says what it recognised (the caller wants Thursday), and that it
  // cannot judge the criteria.
  await expect(analysis.getByTestId("analysis-summary")).toContainText("3 caller and 4 agent utterances");
  await expect(analysis.getByTestId("analysis-data")).toContainText('"day": "thursday"');
  await expect(analysis.getByText("Not evaluated")).toBeVisible();
  await expect(analysis).toContainText("cannot judge success criteria");
  const cost = page.getByLabel("Call cost");
  // Offline providers throughout: free, and each provider is listed.
  await expect(cost.getByTestId("call-cost")).toHaveText("$0.00");
  const rows = cost.getByRole("table", { name: "Cost per provider" });
  await expect(rows.getByRole("row", { name: /^llm:scripted/ })).toContainText("offline");
  await expect(rows.getByRole("row", { name: /^analysis:llm:scripted/ })).toContainText("offline");
  await expect(rows.getByRole("row", { name: /^tts:piper/ })).toContainText("offline");
  await page.screenshot({ path: join(artifacts, "20-call-analysis.png"), fullPage: true });

  await page.getByRole("link", { name: "Calls", exact: true }).click();
  await expect(page.getByRole("columnheader", { name: "Cost" })).toBeVisible();
  await expect(page.getByRole("row", { name: /\$0\.00/ }).first()).toBeVisible();

  await page.getByRole("link", { name: "Analytics" }).click();
  await expect(page.getByRole("heading", { name: "Cost" })).toBeVisible();
  await expect(page.getByRole("table", { name: "Cost per vendor" })).toContainText("pocketsphinx");

  await page.getByRole("link", { name: "Prices" }).click();
  await expect(page.getByRole("table", { name: "Default prices" })).toContainText("claude-haiku-4-5");
  await page.getByRole("button", { name: "Add a price" }).click();
  const row = page.getByRole("group", { name: "Price 1" });
  await row.getByRole("textbox", { name: "Vendor" }).fill("openai");
  await row.getByRole("textbox", { name: "Model" }).fill("gpt-6-luna");
  await row.getByRole("textbox", { name: "$ per 1M input tokens" }).fill("1.25");
  await page.getByRole("button", { name: "Save prices" }).click();
  await expect(page.getByText("Prices saved")).toBeVisible();
  await page.reload();
  await expect(page.getByRole("group", { name: "Price 1" }).getByRole("textbox", { name: "Model" })).toHaveValue("gpt-6-luna");
  await page.screenshot({ path: join(artifacts, "21-prices.png"), fullPage: true });
});
