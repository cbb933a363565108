/** What an admin is told when the call cannot go on: the browser finds no microphone, or the
 * connection to the server drops mid-call (the test's proxy cuts it, as a network would). */
import { expect, test, type Page } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const email = process.env.VOCALS_E2E_EMAIL ?? "";
const password = process.env.VOCALS_E2E_PASSWORD ?? "";
const agentId = process.env.VOCALS_E2E_AGENT_ID ?? "";
const cutUrl = process.env.VOCALS_E2E_CUT_URL ?? "";
const artifacts = process.env.VOCALS_E2E_ARTIFACTS ?? "../test-artifacts/web-call";
// Offline recognition and synthesis on a small shared machine.
const CONNECT_MS = 90_000;

async function openCallDialog(page: Page) {
  await page.goto(`/agents/${agentId}`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Talk to this agent" }).click();
  return page.getByRole("dialog", { name: "Talk to this agent" });
}

test("no microphone gets a plain message", async ({ browser }) => {
  const context = await browser.newContext({ permissions: ["microphone"] });
  const dialog = await openCallDialog(await context.newPage());
  await expect(dialog.getByRole("alert")).toContainText("No microphone was found. Connect one, then try again.");
  await expect(dialog.getByRole("button", { name: "Hang up" })).toHaveCount(0);
  await context.close();
});

test("a lost connection gets a plain message", async ({ browser }) => {
  const context = await browser.newContext({ permissions: ["microphone"] });
  const page = await context.newPage();
  const dialog = await openCallDialog(page);
  await expect(dialog.getByRole("status")).toHaveText("Connected: speak now", { timeout: CONNECT_MS });
  const cut = await fetch(cutUrl, { method: "POST" });
  expect(cut.status).toBe(204);
  await expect(dialog.getByRole("alert")).toContainText("The connection to the agent was lost.");
  await expect(dialog.getByRole("button", { name: "Hang up" })).toHaveCount(0);
  const href = (await dialog.getByRole("link", { name: "Open the call's page" }).getAttribute("href")) ?? "";
  writeFileSync(join(artifacts, "lost-call-id.txt"), href.split("/").pop() ?? "");
  await page.screenshot({ path: join(artifacts, "web-call-lost.png") });
  await context.close();
});
