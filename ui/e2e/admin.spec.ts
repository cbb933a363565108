/** An admin's first day: sign in, add a provider, a trunk, an agent and an API key, then read
 * a call's transcript and latency. Every page is screenshotted for a person to look at. */
import { expect, test, type Locator, type Page } from "@playwright/test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const email = process.env.VOCALS_E2E_EMAIL ?? "owner@acme.test";
const password = process.env.VOCALS_E2E_PASSWORD ?? "";
const viewerEmail = process.env.VOCALS_E2E_VIEWER_EMAIL ?? "viewer@acme.test";
const callId = process.env.VOCALS_E2E_CALL_ID ?? "";
const simulatedCallId = process.env.VOCALS_E2E_SIMULATED_CALL_ID ?? "";
const webhookUrl = process.env.VOCALS_E2E_WEBHOOK_URL ?? "";
const liveCaller = process.env.VOCALS_E2E_LIVE_CALLER ?? "";
const toolCallId = process.env.VOCALS_E2E_TOOL_CALL_ID ?? "";
const artifacts = process.env.VOCALS_E2E_ARTIFACTS ?? "../test-artifacts/ui";
mkdirSync(artifacts, { recursive: true });

async function shot(page: Page, name: string, { fullPage = true } = {}) {
  await expect(page.getByRole("status")).toHaveCount(0); // no loader still spinning
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage });
}

/** Pick `option` in the Mantine Select or Autocomplete labelled `label` (inside `scope`). */
async function choose(scope: Locator, label: string | RegExp, option: string | RegExp) {
  await scope.getByRole("textbox", { name: label }).click();
  await scope.page().getByRole("option", { name: option }).first().click();
}

test.describe.configure({ mode: "serial" });

test.describe("admin UI", () => {
  let page: Page;

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage({ reducedMotion: "reduce" });
  });

  test("the server hands out the app's scripts and styles with their types", async ({ request }) => {
    const html = await (await request.get("/")).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const type = (await request.get(asset)).headers()["content-type"] ?? "";
      expect(type, asset).toMatch(asset.endsWith(".css") ? /^text\/css/ : /javascript/);
    }
  });

  test("signs in, refusing a wrong password first", async () => {
    await page.goto("/agents");
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByRole("heading", { name: "Sign in to Vocals" })).toBeVisible();
    await shot(page, "01-login");
    await page.getByLabel("E-mail").fill(email);
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toContainText("Wrong e-mail or password");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    // Back where the deep link pointed.
    await expect(page).toHaveURL(/\/agents$/);
    await expect(page.getByRole("link", { name: "Reception" })).toBeVisible();
  });

  test("keyboard users can skip the navigation", async () => {
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    await expect(skip).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(page.locator("#main")).toBeFocused();
  });

  test("dashboard shows today's volume and outcomes", async () => {
    await page.getByRole("link", { name: "Dashboard" }).click();
    await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
    await expect(page.getByText("Calls today")).toBeVisible();
    // A caller is on the line: in progress, and counted today before its record exists.
    const live = page.getByRole("table", { name: "Calls in progress" });
    await expect(live.getByRole("row", { name: new RegExp(liveCaller.replace("+", "\\+")) })).toContainText("In progress");
    await expect(page.getByText(/1 in progress/)).toBeVisible();
    // What /healthz knows, for a person: the simulated Asterisk is connected, nothing waits.
    const health = page.getByRole("region", { name: "System health" });
    await expect(health).toContainText("All services up");
    await expect(health).toContainText("Connected");
    await expect(health).toContainText("Empty");
    // Supervised tasks in rows a person reads, not JSON.
    const tasks = health.getByRole("table", { name: "Background tasks" });
    await expect(tasks.getByRole("row", { name: /webhook-worker/ })).toContainText("running");
    await expect(health).not.toContainText('"restarts"');
    await shot(page, "02-dashboard");
  });

  test("follows a live call as it happens and hangs it up while the caller talks", async () => {
    await page.getByRole("link", { name: `Live call ${liveCaller}` }).click();
    await expect(page.getByTestId("call-status")).toHaveText("In progress");
    // The clock runs between turns.
    const elapsed = page.getByTestId("elapsed");
    const first = await elapsed.textContent();
    await expect(elapsed).not.toHaveText(first ?? "");
    // The transcript grows as the caller and the agent speak, without reloading the page.
    const transcript = page.getByRole("list", { name: "Transcript" });
    await expect(transcript.getByRole("listitem", { name: /^Agent at / }).first()).toBeVisible({ timeout: 60_000 });
    await expect(transcript.getByRole("listitem", { name: /^Caller at / }).first()).toBeVisible({ timeout: 60_000 });
    await shot(page, "02b-live-call");
    await page.getByRole("button", { name: "Hang up" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Hang up" }).click();
    await expect(page.getByTestId("call-status")).toHaveText("Completed", { timeout: 30_000 });
    await expect(page.getByRole("button", { name: "Hang up" })).toHaveCount(0);
  });

  test("creates a provider; its key is shown masked", async () => {
    await page.getByRole("link", { name: "Providers" }).click();
    await page.getByRole("button", { name: "New provider" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("textbox", { name: "Name", exact: true }).fill("OpenAI production");
    await dialog.locator("label", { hasText: /^Language model$/ }).click();
    await choose(dialog, "Vendor", /OpenAI/);
    await dialog.getByRole("textbox", { name: "API key", exact: true }).fill("sk-test-0123456789abcd");
    await choose(dialog, "Model", /gpt/);
    await shot(page, "03-provider-form");
    await dialog.getByRole("button", { name: "Create provider" }).click();
    await expect(dialog).toBeHidden();
    const row = page.getByRole("row", { name: /OpenAI production/ });
    await expect(row).toContainText("abcd");
    await expect(row).not.toContainText("sk-test-0123456789");
    // A made-up key never passes the vendor's check (refused, or unreachable from here).
    await row.getByRole("button", { name: "Test" }).click();
    await expect(row.getByText("Failed")).toBeVisible({ timeout: 30_000 });
    await shot(page, "04-providers");
  });

  test("creates a SIP trunk, showing the API's field errors first", async () => {
    await page.getByRole("link", { name: "SIP trunks" }).click();
    await page.getByRole("button", { name: "New trunk" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("textbox", { name: "Name", exact: true }).fill("carrier-main");
    await dialog.getByLabel("Host").fill("not a host!");
    await dialog.getByLabel("Username").fill("acme");
    await dialog.getByLabel("Password").fill("s3cret-pass");
    await dialog.getByRole("button", { name: "Create trunk" }).click();
    // The server's reason, under the field it names.
    await expect(dialog.getByText("must be a hostname or an IPv4/IPv6 address")).toBeVisible();
    await shot(page, "05-trunk-field-error");
    await dialog.getByLabel("Host").fill("sip.carrier.example");
    await dialog.getByRole("button", { name: "Add number" }).click();
    await dialog.getByLabel("DID").fill("+4930555000");
    await dialog.getByRole("button", { name: "Create trunk" }).click();
    await expect(dialog).toBeHidden();
    const row = page.getByRole("row", { name: /^carrier-main/ });
    await expect(row).toContainText("udp://sip.carrier.example:5060");
    await expect(row).toContainText("+4930555000 → Reception");
    // Its registration on the row itself (this server has no AMI to ask, and says so).
    await expect(row.getByTestId("trunk-registration")).toHaveText("Unknown: AMI unavailable");
    await shot(page, "06-trunks");
    // Where Asterisk did not take the trunk, the notice says so in words, as the row does.
    if ((await row.textContent())?.includes("Not in use")) {
      await expect(page.getByText("Trunk created, but calls do not use it yet")).toBeVisible();
      await page.getByRole("button", { name: "Dismiss" }).click();
    }
  });

  test("the Twilio numbers follow the trunk just made and each switch, without a reload", async () => {
    // The trunk's number is routed to Reception: the Twilio list has it at once.
    const numbers = page.getByRole("table", { name: "Twilio numbers" });
    await expect(numbers.getByRole("row", { name: /\+4930555000/ })).toContainText("Reception");
    const account = page.getByRole("form", { name: "Twilio account" });
    await account.getByRole("textbox", { name: "Account SID" }).fill(`AC${"0123456789abcdef".repeat(2)}`);
    await account.locator('input[type="password"]').fill("fedcba9876543210".repeat(2));
    await account.getByRole("button", { name: "Connect account" }).click();
    await expect(page.getByText("****3210")).toBeVisible();
    const carried = page.getByRole("switch", { name: "Twilio carries +4930555000" });
    await expect(carried).toBeEnabled();
    await carried.click({ force: true });
    await expect(carried).toBeChecked();
    await expect(page.getByText("Twilio now carries +4930555000")).toBeVisible();
    await shot(page, "06b-trunks-twilio");
    await page.reload();
    await expect(page.getByRole("switch", { name: "Twilio carries +4930555000" })).toBeChecked();
    await page.getByRole("switch", { name: "Twilio carries +4930555000" }).click({ force: true });
    await expect(page.getByRole("switch", { name: "Twilio carries +4930555000" })).not.toBeChecked();
    await expect(page.getByText("+4930555000 is back on Asterisk")).toBeVisible();
  });

  test("creates an agent with providers from the catalog", async () => {
    await page.getByRole("link", { name: "Agents" }).click();
    await page.getByRole("link", { name: "New agent" }).click();
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Sales outbound");
    await page.getByLabel("System prompt").fill("You call customers back about their quote.");
    const stt = page.getByRole("group", { name: /Speech to text/ });
    await choose(stt, "Vendor", /PocketSphinx/i);
    const llm = page.getByRole("group", { name: /Language model/ });
    await choose(llm, "Provider", /OpenAI production/);
    const tts = page.getByRole("group", { name: /Text to speech/ });
    await choose(tts, "Vendor", /Piper/i);
    await page.locator("label", { hasText: /^High$/ }).click();
    await shot(page, "07-agent-form");
    await page.getByRole("button", { name: "Create agent" }).click();
    await expect(page).toHaveURL(/\/agents\/[0-9a-f-]{36}$/);
    await expect(page.getByRole("heading", { name: "Sales outbound" })).toBeVisible();
    await page.getByRole("link", { name: "Agents" }).click();
    await expect(page.getByRole("link", { name: "Sales outbound" })).toBeVisible();
    await shot(page, "08-agents");
  });

  test("refuses to delete a provider an agent uses, naming the agent", async () => {
    await page.getByRole("link", { name: "Providers" }).click();
    await page.getByRole("button", { name: "Delete OpenAI production" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await expect(page.getByText("Provider not deleted")).toBeVisible();
    await expect(page.getByText("This provider is used by agent Sales outbound: switch them to another first.")).toBeVisible();
    await expect(page.getByRole("row", { name: /OpenAI production/ })).toBeVisible();
    await shot(page, "08b-provider-in-use", { fullPage: false });
    // A second provider of the same name: the API's 409, in words, under the Name field.
    await page.getByRole("button", { name: "New provider" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Create provider" }).click();
    // An empty submit lands on the first field to fix.
    await expect(dialog.getByRole("textbox", { name: "Name", exact: true })).toBeFocused();
    await dialog.getByRole("textbox", { name: "Name", exact: true }).fill("OpenAI production");
    await dialog.locator("label", { hasText: /^Language model$/ }).click();
    await choose(dialog, "Vendor", /OpenAI/);
    await dialog.getByRole("textbox", { name: "API key", exact: true }).fill("sk-test-0123456789wxyz");
    await choose(dialog, "Model", /gpt/);
    await dialog.getByRole("button", { name: "Create provider" }).click();
    const name = dialog.getByRole("textbox", { name: "Name", exact: true });
    await expect(name).toHaveAttribute("aria-invalid", "true");
    await expect(name).toHaveAccessibleDescription(/This name is already used\./);
    await expect(dialog.getByText(/Key \(|tenant_id|already exists \(/)).toHaveCount(0);
    await shot(page, "08c-provider-name-taken", { fullPage: false });
    await page.keyboard.press("Escape");
    await expect(dialog).toBeHidden();
  });

  test("creates an API key, shows its secret once, then revokes it", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("button", { name: "New API key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("textbox", { name: "Name", exact: true }).fill("CRM integration");
    await dialog.getByRole("button", { name: "Create key" }).click();
    const secret = dialog.getByTestId("secret-once");
    await expect(secret).toHaveText(/\S{20,}/);
    const key = (await secret.textContent()) ?? "";
    await shot(page, "09-api-key-secret");
    await dialog.getByRole("button", { name: "Done" }).click();
    const row = page.getByRole("row", { name: /CRM integration/ });
    await expect(row).toBeVisible();
    await expect(page.getByText(key)).toHaveCount(0);
    await row.getByRole("button", { name: "Revoke CRM integration" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
    await expect(row.getByText("Revoked")).toBeVisible();
    await shot(page, "10-api-keys");
  });

  test("lists calls and opens one: transcript and latency waterfall", async () => {
    await page.getByRole("link", { name: "Calls" }).click();
    await expect(page.getByText("+4915112345678 → +4930123456")).toBeVisible();
    await page.getByLabel("Transcript contains").fill("Thursday");
    await expect(page.getByText("1 in total")).toBeVisible();
    await shot(page, "11-calls");
    await page.getByRole("link", { name: /\d/ }).filter({ hasText: /:/ }).first().click();
    await expect(page).toHaveURL(new RegExp(`/calls/${callId}$`));
    const transcript = page.getByRole("list", { name: "Transcript" });
    await expect(transcript.getByText("I'd like to move my appointment to Thursday")).toBeVisible();
    await expect(transcript.getByText("Done: Thursday at ten fifteen. Goodbye!")).toBeVisible();
    const latency = page.getByRole("table", { name: "Latency per turn" });
    await expect(latency.getByRole("row")).toHaveCount(5); // header, the greeting, three turns
    await expect(page.getByTestId("waterfall-turn-0")).toBeVisible();
    // The greeting is timed from the call's audio connecting, not left as a row of dashes.
    await expect(latency.getByRole("row", { name: /^Greeting/ })).toContainText("400 ms");
    // Its recording, fetched with the session and playable.
    await expect(page.getByLabel("Call recording")).toHaveAttribute("src", /^blob:/);
    await expect.poll(() => page.getByLabel("Call recording").evaluate((a: HTMLAudioElement) => a.duration)).toBeCloseTo(1, 1);
    await page.getByRole("tab", { name: "Provider usage" }).click();
    await expect(page.getByRole("table", { name: "Provider usage" }).getByRole("row", { name: /LLM scripted/ })).toContainText("412 / 58");
    await page.getByRole("tab", { name: /^Events/ }).click();
    await shot(page, "12-call-detail");
  });

  test("finds a call by number and exports what the filters find as CSV", async () => {
    await page.goto("/calls");
    // Either party, typed as a person does, with spaces.
    await page.getByLabel("Number or call id").fill("49 151 1234 5678");
    await expect(page.getByText("1 in total")).toBeVisible();
    await expect(page.getByRole("row", { name: /\+4915112345678 → \+4930123456/ })).toBeVisible();
    await page.getByRole("button", { name: "Export" }).click();
    const download = page.waitForEvent("download");
    await page.getByRole("menuitem", { name: "CSV with transcripts" }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^calls-\d{8}-\d{6}\.csv$/);
    // RFC 4180 lines end in CRLF.
    const lines = readFileSync((await file.path())!, "utf8").trim().split("\r\n");
    expect(lines[0]).toBe("id,started_at,answered_at,ended_at,direction,transport,from_number,to_number,agent_id,status,outcome,duration_ms,error_reason,cost_total,cost_currency,analysis_status,analysis_summary,analysis_success,analysis_success_reason,analysis_data,transcript");
    expect(lines[1]).toContain(`${callId},`);
    expect(lines.join("\n")).toContain("Caller: Hi, I'd like to move my appointment to Thursday.");
    await shot(page, "11b-calls-search", { fullPage: false });
  });

  test("opens the call a simulated caller made: its transcript and latency", async () => {
    await page.goto(`/calls/${simulatedCallId}`);
    const transcript = page.getByRole("list", { name: "Transcript" });
    // What the server heard the caller say (offline recognition, so not word for word) and
    // what the agent answered.
    await expect(transcript.getByRole("listitem", { name: /^Caller at / }).first()).toContainText(/\w+/);
    await expect(transcript.getByRole("listitem", { name: /^Agent at / }).first()).toContainText(/\w+/);
    // At least one turn was measured end to end.
    await expect(page.getByTestId(/^waterfall-turn-/).first()).toBeVisible();
    await expect(page.getByRole("table", { name: "Latency per turn" })).toContainText(/\d ms/);
    await shot(page, "13-simulated-call");
  });

  test("a call where the agent called a tool shows it in the conversation", async () => {
    await page.goto(`/calls/${toolCallId}`);
    const transcript = page.getByRole("list", { name: "Transcript" });
    const tool = transcript.getByRole("listitem", { name: /^Tool check_availability at / });
    await expect(tool).toContainText("answered");
    await expect(tool).toContainText('"day": "Friday"');
    await expect(tool).toContainText("14:30");
    await expect(tool).toContainText(/\d+ ms|\d\.\d s/);
    await expect(transcript.getByRole("listitem", { name: /^Agent at / }).last()).toContainText(/Friday at ten/);
    await shot(page, "13b-tool-call");
  });

  test("edits an agent's tools: secret headers stay hidden, refusals land next to their field", async () => {
    await page.goto("/agents");
    await page.getByRole("link", { name: "Table bookings" }).click();
    const tool = page.getByRole("region", { name: "Tool check_availability" });
    await expect(tool.getByText("Stored, ends in wxyz; type to replace")).toBeVisible();
    await expect(page.getByText(/booking-0123/)).toHaveCount(0);
    await expect(tool.getByLabel("Header 1 value")).toHaveValue("");
    // Moved to another address, the stored secret is not sent along: the API asks for it again.
    const url = tool.getByRole("textbox", { name: "URL" });
    const original = await url.inputValue();
    await url.fill(original.replace("127.0.0.1", "localhost"));
    await page.getByRole("button", { name: "Save agent" }).click();
    await expect(tool.getByLabel("Header 1 value")).toHaveAccessibleDescription(/enter the value again: the tool now calls another address/);
    await url.fill(original);
    // A second tool, its parameters mistyped first.
    await page.getByRole("button", { name: "Add tool" }).click();
    const added = page.getByRole("region", { name: "Tool Tool 2" });
    await added.getByRole("textbox", { name: "Name" }).fill("book_slot");
    const booking = page.getByRole("region", { name: "Tool book_slot" });
    await booking.getByRole("textbox", { name: "Description" }).fill("Books a free slot for the caller.");
    await booking.getByRole("textbox", { name: "URL" }).fill(original.replace("/slots", "/book"));
    await booking.getByRole("textbox", { name: "Parameters (JSON schema)" }).fill('{"type": "object", "properties": {"time": {"type": "string"}},}');
    await page.getByRole("button", { name: "Save agent" }).click();
    await expect(booking.getByRole("textbox", { name: "Parameters (JSON schema)" })).toHaveAccessibleDescription(/Not valid JSON/);
    await shot(page, "07b-agent-tools-error");
    await booking.getByRole("textbox", { name: "Parameters (JSON schema)" }).fill('{"type": "object", "properties": {"time": {"type": "string"}}}');
    await page.getByRole("button", { name: "Save agent" }).click();
    await expect(page.getByText("Agent saved")).toBeVisible();
    await page.reload();
    await expect(page.getByRole("region", { name: "Tool book_slot" })).toBeVisible();
    await expect(page.getByRole("region", { name: "Tool check_availability" }).getByText("Stored, ends in wxyz; type to replace")).toBeVisible();
    await shot(page, "07c-agent-tools");
  });

  test("a deep link to a call loads the app on that page", async () => {
    await page.goto(`/calls/${callId}`);
    await expect(page.getByRole("list", { name: "Transcript" })).toBeVisible();
  });

  test("adds a webhook to a local receiver and sends it a test event", async () => {
    await page.getByRole("link", { name: "Webhooks" }).click();
    await expect(page.getByText("No webhooks yet")).toBeVisible();
    // The receiver listens on 127.0.0.1: the test server's operator allows private URLs.
    await page.getByRole("button", { name: "New webhook" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("textbox", { name: "URL" }).fill(webhookUrl);
    await dialog.getByRole("checkbox", { name: "call.failed" }).check();
    await dialog.getByRole("button", { name: "Create webhook" }).click();
    await expect(dialog.getByTestId("secret-once")).toHaveText(/\S{16,}/);
    await dialog.getByRole("button", { name: "Done" }).click();
    const row = page.getByRole("row", { name: new RegExp(webhookUrl.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")) });
    await row.getByRole("button", { name: "Test" }).click();
    await expect(page.getByText(/Test delivered \(HTTP 204\)/)).toBeVisible();
    await row.getByRole("button", { name: "Deliveries" }).click();
    const deliveries = page.getByRole("table", { name: "Deliveries" });
    await expect(deliveries.getByRole("row", { name: /webhook\.test/ })).toContainText("delivered");
    await shot(page, "15-webhook-deliveries");
    await page.keyboard.press("Escape");
    await shot(page, "16-webhooks");
  });

  test("analytics, audit log and users render", async () => {
    await page.getByRole("link", { name: "Analytics" }).click();
    await expect(page.getByRole("heading", { name: "Calls per day" })).toBeVisible();
    await shot(page, "14-analytics");


    await page.getByRole("link", { name: "Audit log" }).click();
    await expect(page.getByRole("row", { name: /Created SIP trunk/ })).toBeVisible();
    // Typed into quickly, as a person does: every letter filters, the page stays.
    await page.getByLabel("Actor").pressSequentially(email, { delay: 40 });
    await page.getByLabel("Action").pressSequentially("create", { delay: 300 });
    await expect(page.getByLabel("Action")).toHaveValue("create");
    await page.getByLabel("Action").fill("");
    await expect(page.getByRole("row", { name: /Created SIP trunk/ })).toBeVisible();
    await expect(page.getByRole("alert")).toHaveCount(0);
    await shot(page, "17-audit-log");

    await page.getByRole("link", { name: "Users" }).click();
    await expect(page.getByRole("row", { name: new RegExp(email) })).toContainText("(you)");
    await shot(page, "18-users");
  });

  test("places an outbound call and lands on it", async () => {
    await page.getByRole("link", { name: "Calls" }).click();
    await page.getByRole("button", { name: "New call" }).click();
    const dialog = page.getByRole("dialog");
    await choose(dialog, "Agent", "Sales outbound");
    await dialog.getByRole("textbox", { name: "To", exact: true }).fill("+4930555123");
    await dialog.getByRole("button", { name: "Place call" }).click();
    await expect(page).toHaveURL(/\/calls\/[0-9a-f-]{36}$/);
    await expect(page.getByText("+4930555123")).toBeVisible();
    await expect(page.getByText("Outbound ·")).toBeVisible();
    await shot(page, "19-outbound-call");
  });

  test("works on a phone-sized screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`/calls/${callId}`);
    await expect(page.getByRole("list", { name: "Transcript" })).toBeVisible();
    await shot(page, "20-call-detail-mobile");
    await page.getByRole("button", { name: "Toggle navigation" }).click();
    await expect(page.getByRole("link", { name: "SIP trunks" })).toBeVisible();
    await shot(page, "21-navigation-mobile", { fullPage: false });
    // The agent form fits the screen: nothing to scroll sideways.
    await page.goto("/agents/new");
    await expect(page).toHaveTitle("New agent · Vocals");
    await expect(page.getByRole("textbox", { name: "Name", exact: true })).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, "21b-agent-form-mobile");
    // A wide table scrolls sideways, its row actions stay on screen.
    await page.goto("/sip-trunks");
    await expect(page.getByRole("button", { name: "Edit carrier-main" })).toBeInViewport({ ratio: 1 });
    await shot(page, "21c-trunks-mobile", { fullPage: false });
    // The outcomes donut fits its card.
    await page.goto("/");
    const outcomes = page.getByRole("img", { name: /^Outcomes:/ });
    await expect(outcomes.locator(".recharts-pie")).toBeVisible();
    const [pie, drawing] = await Promise.all([outcomes.locator(".recharts-pie").boundingBox(), outcomes.getByRole("application").boundingBox()]);
    for (const [inner, outer] of [[pie!.x, drawing!.x], [pie!.y, drawing!.y]] as const) expect(inner).toBeGreaterThanOrEqual(outer);
    expect(pie!.x + pie!.width).toBeLessThanOrEqual(drawing!.x + drawing!.width);
    expect(pie!.y + pie!.height).toBeLessThanOrEqual(drawing!.y + drawing!.height);
    await shot(page, "21d-dashboard-mobile");
    // The health panel's tasks fit the screen: nothing to scroll sideways.
    await expect(page.getByRole("table", { name: "Background tasks" })).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
  });

  test("follows the system's dark mode, and a toggle overrides it", async () => {
    await page.setViewportSize({ width: 1366, height: 900 });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto("/calls");
    await expect(page).toHaveTitle("Calls · Vocals");
    const html = page.locator("html");
    await expect(html).toHaveAttribute("data-mantine-color-scheme", "dark");
    await shot(page, "21c-calls-dark", { fullPage: false });
    await page.getByRole("button", { name: "Use light mode" }).click();
    await expect(html).toHaveAttribute("data-mantine-color-scheme", "light");
    await page.emulateMedia({ colorScheme: "light" });
  });

  test("the pages an admin lives in, at desktop and phone size, for a person to look at", async () => {
    await page.goto("/agents");
    await page.getByRole("link", { name: "Table bookings" }).click();
    const agentPath = new URL(page.url()).pathname;
    const pages: [string, string][] = [
      ["dashboard", "/"], ["calls", "/calls"], ["call", `/calls/${callId}`], ["tool-call", `/calls/${toolCallId}`],
      ["agent-form", agentPath], ["trunks", "/sip-trunks"],
    ];
    for (const [width, height] of [[1440, 900], [390, 844]] as const) {
      await page.setViewportSize({ width, height });
      for (const [name, path] of pages) {
        await page.goto(path);
        await expect(page.locator("#main")).toBeVisible();
        await shot(page, `sizes/${width}x${height}-${name}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, `${name} at ${width}px scrolls sideways`).toBeLessThanOrEqual(0);
      }
      await page.goto("/");
      const health = page.getByRole("region", { name: "System health" });
      await expect(health.getByRole("table", { name: "Background tasks" })).toBeVisible();
      await health.screenshot({ path: join(artifacts, `sizes/${width}x${height}-health.png`) });
    }
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  test("a viewer sees everything and can change nothing", async () => {
    await page.setViewportSize({ width: 1366, height: 900 });
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByRole("heading", { name: "Sign in to Vocals" })).toBeVisible();
    await page.getByLabel("E-mail").fill(viewerEmail);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByText("viewer", { exact: true })).toBeVisible();
    await page.getByRole("link", { name: "Agents" }).click();
    await expect(page.getByRole("link", { name: "Sales outbound" })).toBeVisible();
    await expect(page.getByRole("link", { name: "New agent" })).toHaveCount(0);
    await page.getByRole("link", { name: "Sales outbound" }).click();
    await expect(page.getByRole("textbox", { name: "Name", exact: true })).toBeDisabled();
    await expect(page.getByRole("button", { name: "Save agent" })).toHaveCount(0);
    await page.getByRole("link", { name: "SIP trunks" }).click();
    await expect(page.getByRole("row", { name: /^carrier-main/ })).toBeVisible();
    await expect(page.getByRole("button", { name: "New trunk" })).toHaveCount(0);
    await shot(page, "22-viewer-trunks");
  });
});
