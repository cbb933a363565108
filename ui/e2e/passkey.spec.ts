/** A passkey as the second factor, in Chromium with its virtual authenticator (DevTools
 * protocol, WebAuthn domain) against a running `vocals serve` on localhost
 * (tests/ui/test_browser_passkey.py starts it): add one on the security page, sign out, sign in
 * with the password and the passkey, then with the passkey alone. */
import { expect, test } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const email = process.env.VOCALS_E2E_PASSKEY_EMAIL ?? "";
const password = process.env.VOCALS_E2E_PASSKEY_PASSWORD ?? "";
const artifacts = process.env.VOCALS_E2E_ARTIFACTS ?? "../test-artifacts/ui";
mkdirSync(artifacts, { recursive: true });

test.skip(!email, "run by tests/ui/test_browser_passkey.py, which starts the server on localhost");

test("a passkey added on the security page signs in as the second factor", async ({ page }) => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  await page.goto("/login");
  await page.getByRole("textbox", { name: "E-mail" }).fill(email);
  await page.getByLabel(/^Password/).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText(email)).toBeVisible();
  await page.getByRole("link", { name: "Security" }).click();
  await page.getByRole("textbox", { name: /Passkey name/ }).fill("This laptop");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByRole("cell", { name: "This laptop", exact: true })).toBeVisible();
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials).toHaveLength(1);
  await page.screenshot({ path: join(artifacts, "passkey-added.png") });

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.goto("/login");
  await page.getByRole("textbox", { name: "E-mail" }).fill(email);
  await page.getByLabel(/^Password/).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Use a passkey" }).click();
  await expect(page.getByText(email)).toBeVisible();
  const after = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(after.credentials[0]!.signCount).toBeGreaterThan(credentials[0]!.signCount);
  await page.getByRole("link", { name: "Security" }).click();
  await expect(page.getByRole("row", { name: /This laptop/ })).not.toContainText("never");
  await page.screenshot({ path: join(artifacts, "signed-in-with-passkey.png") });

  // The passkey is discoverable: it signs in alone, nothing typed.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.goto("/login");
  await page.getByRole("button", { name: "Use a passkey" }).click();
  await expect(page.getByText(email)).toBeVisible();
});
