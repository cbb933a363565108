/** Campaigns and the do-not-call list as an admin uses them, in Chromium against a running
 * `vocals serve` (tests/ui/test_browser_campaigns.py starts it with an agent and a trunk, and
 * checks the database afterwards): create a campaign through the form, import leads with one
 * bad row and read its error, add and remove a do-not-call number. Both pages are looked at
 * on a laptop (1440×900) and a phone (390×844). */
import { expect, test, type Page } from "@playwright/test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const email = process.env.VOCALS_E2E_CAMPAIGN_EMAIL ?? "";
const password = process.env.VOCALS_E2E_CAMPAIGN_PASSWORD ?? "";
const callerId = process.env.VOCALS_E2E_CALLER_ID ?? "";
const artifacts = process.env.VOCALS_E2E_ARTIFACTS ?? "../test-artifacts/ui";
mkdirSync(artifacts, { recursive: true });
const LAPTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };
const NUMBER = "+14155550123";

test.skip(!email, "run by tests/ui/test_browser_campaigns.py, which prepares the server");
test.describe.configure({ mode: "serial" });

/** The text of the file the button `name` downloads, and the name the server gave it. */
async function downloaded(page: Page, name: string): Promise<{ file: string; text: string }> {
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name }).click()]);
  return { file: download.suggestedFilename(), text: readFileSync(await download.path(), "utf8") };
}

/** Screenshots at both sizes; on the phone nothing may stick out sideways (tables scroll inside their cards). */
async function bothSizes(page: Page, name: string) {
  await expect(page.getByRole("status")).toHaveCount(0);
  await page.screenshot({ path: join(artifacts, `${name}-1440.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await expect(page.getByRole("button", { name: "Toggle navigation" })).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, `${name} is wider than the phone`).toBeLessThanOrEqual(0);
  await page.screenshot({ path: join(artifacts, `${name}-390.png`), fullPage: true });
  await page.setViewportSize(LAPTOP);
}

test.describe("campaigns and do-not-call", () => {
  let page: Page;

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage({ viewport: LAPTOP, reducedMotion: "reduce" });
    await page.goto("/campaigns");
    await page.getByLabel("E-mail").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("heading", { name: "Campaigns" })).toBeVisible();
  });

  test("creates a campaign through the form, a refused field shown where it is", async () => {
    await page.getByRole("button", { name: "New campaign" }).click();
    const dialog = page.getByRole("dialog", { name: "New campaign" });
    await dialog.getByRole("textbox", { name: "Name" }).fill("Spring reminders");
    await expect(dialog.getByRole("textbox", { name: "Agent" })).toHaveValue("Reception");
    await expect(dialog.getByRole("textbox", { name: "SIP trunk" })).toHaveValue("carrier");
    const cap = dialog.getByRole("textbox", { name: "Calls at once at most" });
    await cap.fill("2");
    // A chip's checkbox sits under its label: a person clicks the label, a keyboard presses Space.
    await dialog.getByText("Sat", { exact: true }).click();
    await expect(dialog.getByRole("checkbox", { name: "Sat" })).toBeChecked();
    await dialog.getByRole("textbox", { name: /Skip the public holidays of/ }).fill("US");
    const callerIds = dialog.getByRole("textbox", { name: /Numbers to call from/ });
    await callerIds.fill(callerId);
    await callerIds.press("Enter");
    // Only the server knows the zone names: its refusal lands under the field, focused.
    const zone = dialog.getByRole("textbox", { name: /Time zone of a lead/ });
    await zone.fill("Mars/Olympus");
    await dialog.getByRole("button", { name: "Create campaign" }).click();
    await expect(zone).toHaveAccessibleDescription(/not a time zone name/);
    await expect(zone).toBeFocused();
    await dialog.screenshot({ path: join(artifacts, "campaign-form-refused.png") });
    await zone.fill("America/New_York");
    await page.keyboard.press("Escape"); // closes the zone's suggestions, not the dialog
    await dialog.getByRole("button", { name: "Create campaign" }).click();
    await expect(page).toHaveURL(/\/campaigns\/[0-9a-f-]{36}$/);
    await expect(page.getByRole("heading", { name: "Spring reminders" })).toBeVisible();
    await expect(page.getByText("2 at once · 1/s")).toBeVisible();
    await expect(page.getByText("No leads yet")).toBeVisible();
  });

  test("imports leads: one bad row refuses the import and is named by its line", async () => {
    const form = page.getByRole("form", { name: "Import leads" });
    await form.getByText("Paste").click();
    const csv = form.getByRole("textbox", { name: /CSV text/ });
    await csv.fill("number,first_name\n+14155550100,Ada\nnot-a-number,Eve\n+14155550101,Bob\n");
    await form.getByRole("button", { name: "Import" }).click();
    const report = form.getByRole("table", { name: "Rows to correct" });
    await expect(report.getByRole("row")).toHaveCount(2);
    await expect(report.getByRole("row").nth(1)).toContainText("3number");
    await expect(form.getByRole("alert")).toContainText("Nothing was imported: 1 row to correct.");
    await expect(page.getByText("No leads yet")).toBeVisible();
    await form.screenshot({ path: join(artifacts, "campaign-import-refused.png") });

    await csv.fill("number,first_name\n+14155550100,Ada\n+14155550101,Bob\n");
    await form.getByRole("button", { name: "Import" }).click();
    await expect(form.getByText("2 leads added.")).toBeVisible();
    const leads = page.getByRole("table", { name: "Leads" });
    await expect(leads.getByRole("row")).toHaveCount(3);
    await expect(leads.getByRole("row", { name: /\+14155550101/ })).toContainText("first_name=Bob");
    await expect(leads.getByRole("row", { name: /\+14155550101/ })).toContainText("Not called yet");
    await expect(leads.getByRole("row", { name: /\+14155550101/ })).toContainText("Due");
    const results = await downloaded(page, "Results CSV");
    expect(results.file).toMatch(/^campaign-[0-9a-f-]{36}\.csv$/);
    expect(results.text).toContain("+14155550101,America/Los_Angeles,pending,0");
    await bothSizes(page, "campaign-detail");
  });

  test("adds a number to the do-not-call list and removes it after confirming", async () => {
    await page.getByRole("link", { name: "Do not call" }).click();
    await expect(page.getByRole("heading", { name: "Do not call" })).toBeVisible();
    await expect(page.getByText("The list is empty")).toBeVisible();
    const add = page.getByRole("form", { name: "Add a number" });
    await add.getByRole("textbox", { name: "Number" }).fill("+1 2");
    await add.getByRole("button", { name: "Add to the list" }).click();
    await expect(add.getByRole("textbox", { name: "Number" })).toHaveAccessibleDescription(/'\+12' is not a phone number/);
    await add.getByRole("textbox", { name: "Number" }).fill(NUMBER);
    await add.getByRole("textbox", { name: "Reason" }).fill("asked by e-mail");
    await add.getByRole("button", { name: "Add to the list" }).click();
    const row = page.getByRole("table", { name: "Do-not-call numbers" }).getByRole("row", { name: new RegExp(`\\${NUMBER}`) });
    await expect(row).toContainText("asked by e-mail");
    const exported = await downloaded(page, "Export CSV");
    expect(exported.file).toMatch(/^do-not-call-.*\.csv$/);
    expect(exported.text).toContain(`${NUMBER},api,asked by e-mail`);
    await bothSizes(page, "do-not-call");

    await row.getByRole("button", { name: `Remove ${NUMBER}` }).click();
    const confirm = page.getByRole("dialog", { name: `Take ${NUMBER} off the list?` });
    await confirm.getByRole("button", { name: "Remove" }).click();
    await expect(page.getByText("The list is empty")).toBeVisible();
  });
});
