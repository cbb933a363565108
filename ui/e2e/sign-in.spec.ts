/** Signing in the ways admins expect, in Chromium against a running `vocals serve`
 * (tests/ui/test_browser_sign_in.py starts it, and a local OpenID Connect provider): a password
 * with a TOTP code, then single sign-on through the provider. */
import { expect, test } from "@playwright/test";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const mfaEmail = process.env.VOCALS_E2E_MFA_EMAIL ?? "";
const mfaPassword = process.env.VOCALS_E2E_MFA_PASSWORD ?? "";
const totpSecret = process.env.VOCALS_E2E_TOTP_SECRET ?? "";
const ssoPath = process.env.VOCALS_E2E_SSO_PATH ?? "";
const ssoEmail = process.env.VOCALS_E2E_SSO_EMAIL ?? "";
const ssoTenant = process.env.VOCALS_E2E_SSO_TENANT ?? "";
const artifacts = process.env.VOCALS_E2E_ARTIFACTS ?? "../test-artifacts/ui";
mkdirSync(artifacts, { recursive: true });

test.skip(!ssoPath, "run by tests/ui/test_browser_sign_in.py, which starts the provider");

/** RFC 6238: the 6-digit code of the 30-second step `stepsAhead` from now (RFC 4648 base32 secret). */
function totp(secret: string, stepsAhead = 0): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + stepsAhead));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

test("a password and a code from the authenticator app", async ({ page }) => {
  await page.goto("/login");
  await page.getByRole("textbox", { name: "E-mail" }).fill(mfaEmail);
  await page.getByLabel(/^Password/).fill(mfaPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  const code = page.getByRole("textbox", { name: /^Code/ });
  await expect(code).toBeVisible();
  await page.screenshot({ path: join(artifacts, "sign-in-second-factor.png") });
  // The next step's code: the one enrolment used cannot be used again.
  await code.fill(totp(totpSecret, 1));
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText(mfaEmail)).toBeVisible();
  await page.getByRole("link", { name: "Security" }).click();
  await expect(page.getByText("10 recovery codes left.")).toBeVisible();
  await page.screenshot({ path: join(artifacts, "security.png") });
});

test("single sign-on through the tenant's identity provider", async ({ page }) => {
  await page.goto(`/login?tenant=${encodeURIComponent(ssoTenant)}`);
  const button = page.getByRole("link", { name: "Continue with Company IdP" });
  await expect(button).toHaveAttribute("href", ssoPath);
  await button.click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByText(ssoEmail)).toBeVisible();
  await page.screenshot({ path: join(artifacts, "signed-in-with-sso.png") });
});
