import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { me } from "../test/fixtures";
import { fakeApi, renderWithApp } from "../test/render";
import { SecurityPage } from "./SecurityPage";

describe("SecurityPage", () => {
  it("enrols an authenticator app with its first code and shows the recovery codes once", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/auth/me": { ...me, role: "admin" },
      "GET /api/v1/auth/two-factor": { enabled: false, recovery_codes_left: 0, required: true, passkeys: 0 },
      "GET /api/v1/auth/passkeys": { items: [] },
      "GET /api/v1/sso-providers": { items: [] },
      "POST /api/v1/auth/two-factor/totp": { status: 201, body: { secret: "JBSWY3DPEHPK3PXP", otpauth_uri: "otpauth://totp/Vocals:owner%40acme.test?secret=JBSWY3DPEHPK3PXP&issuer=Vocals" } },
      "POST /api/v1/auth/two-factor/totp/confirm": { codes: ["aaaa-bbbb-cccc-dddd", "eeee-ffff-gggg-hhhh"] },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<SecurityPage />);
    expect(await screen.findByRole("alert")).toHaveTextContent("requires two-factor sign-in");
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Set up an authenticator app" }));
    expect(await screen.findByTestId("totp-secret")).toHaveTextContent("JBSWY3DPEHPK3PXP");
    await user.type(screen.getByRole("textbox", { name: /Code from the app/ }), "123456");
    await user.click(screen.getByRole("button", { name: "Turn on" }));
    expect(await screen.findByTestId("secret-once")).toHaveTextContent("aaaa-bbbb-cccc-dddd");
    expect(api.calls.find((c) => c.path === "/api/v1/auth/two-factor/totp/confirm")).toMatchObject({ body: { code: "123456" } });
  });

  it("gives new recovery codes for a code from the app", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/auth/me": { ...me, role: "viewer" },
      "GET /api/v1/auth/two-factor": { enabled: true, recovery_codes_left: 2, required: false, passkeys: 0 },
      "GET /api/v1/auth/passkeys": { items: [] },
      "GET /api/v1/sso-providers": { items: [] },
      "POST /api/v1/auth/two-factor/recovery-codes": { codes: ["new1-new1-new1-new1", "new2-new2-new2-new2"] },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<SecurityPage />);
    const form = await screen.findByRole("form", { name: "Get new recovery codes" });
    const user = userEvent.setup();
    await user.type(within(form).getByRole("textbox"), "654321");
    await user.click(within(form).getByRole("button", { name: "Get new recovery codes" }));
    expect(await screen.findByTestId("secret-once")).toHaveTextContent("new2-new2-new2-new2");
    expect(api.calls.find((c) => c.path === "/api/v1/auth/two-factor/recovery-codes")).toMatchObject({ method: "POST", body: { code: "654321" } });
    expect(screen.queryByText(/Sign-in policy/)).toBeNull();
  });

  it("lets an owner require single sign-on, and says why it cannot be yet", async () => {
    tokenStore.set("tok");
    const tenant = { id: me.tenant_id, name: "acme", require_two_factor: false, require_sso: false, created_at: "2026-01-01T00:00:00Z" };
    const api = fakeApi({
      "GET /api/v1/auth/me": me,
      "GET /api/v1/auth/two-factor": { enabled: true, recovery_codes_left: 10, required: false, passkeys: 0 },
      "GET /api/v1/auth/passkeys": { items: [] },
      "GET /api/v1/sso-providers": { items: [] },
      "GET /api/v1/tenant": tenant,
      "PATCH /api/v1/tenant": { status: 422, body: { title: "Unprocessable Content", status: 422, detail: "require_sso: add an SSO provider first: nobody could sign in", errors: [{ field: "require_sso", reason: "add an SSO provider first: nobody could sign in" }] } },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<SecurityPage />);
    expect(await screen.findByText("Sign-in policy of acme", undefined, { timeout: 5000 })).toBeInTheDocument();
    const user = userEvent.setup();
    await user.click(screen.getByRole("switch", { name: /Require single sign-on/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("add an SSO provider first");
    expect(api.calls.find((c) => c.method === "PATCH")).toMatchObject({ path: "/api/v1/tenant", body: { require_sso: true } });
  });

  it("adds a passkey made by the browser's authenticator, and removes one", async () => {
    tokenStore.set("tok");
    const made = { id: "cred", rawId: "cred", type: "public-key", response: { clientDataJSON: "e30", attestationObject: "oA" } };
    const create = vi.fn(async () => Object.assign(Object.create(FakeCredential.prototype) as object, { toJSON: () => made }));
    class FakeCredential {
      static parseCreationOptionsFromJSON(options: unknown) { return { parsed: options }; }
      static parseRequestOptionsFromJSON(options: unknown) { return options; }
    }
    vi.stubGlobal("PublicKeyCredential", FakeCredential);
    vi.stubGlobal("navigator", { ...navigator, credentials: { create } });
    const api = fakeApi({
      "GET /api/v1/auth/me": { ...me, role: "viewer" },
      "GET /api/v1/auth/two-factor": { enabled: false, recovery_codes_left: 0, required: false, passkeys: 1 },
      "GET /api/v1/auth/passkeys": { items: [{ id: "pk-1", name: "Old key", created_at: "2026-01-01T00:00:00Z", last_used_at: null }] },
      "POST /api/v1/auth/passkeys/registration-options": { options: { challenge: "abc", rp: { id: "localhost", name: "Vocals" } } },
      "POST /api/v1/auth/passkeys": { status: 201, body: { id: "pk-2", name: "YubiKey", created_at: "2026-01-02T00:00:00Z", last_used_at: null, recovery_codes: ["rec1-rec1-rec1-rec1"] } },
      "DELETE /api/v1/auth/passkeys/pk-1": { status: 204, body: undefined },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<SecurityPage />);
    const user = userEvent.setup();
    await user.type(await screen.findByRole("textbox", { name: /Passkey name/ }), "YubiKey");
    await user.click(screen.getByRole("button", { name: "Add a passkey" }));
    await vi.waitFor(() => expect(api.calls.find((c) => c.method === "POST" && c.path === "/api/v1/auth/passkeys")).toMatchObject({ body: { name: "YubiKey", credential: made } }));
    expect(await screen.findByTestId("secret-once")).toHaveTextContent("rec1-rec1-rec1-rec1");
    expect(create).toHaveBeenCalledWith({ publicKey: { parsed: { challenge: "abc", rp: { id: "localhost", name: "Vocals" } } } });
    await user.click(screen.getByRole("button", { name: "Remove Old key" }));
    await vi.waitFor(() => expect(api.calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/auth/passkeys/pk-1")).toBe(true));
  });

  it("adds a Microsoft Entra ID provider from its preset", async () => {
    tokenStore.set("tok");
    const api = fakeApi({
      "GET /api/v1/auth/me": { ...me, role: "admin" },
      "GET /api/v1/auth/two-factor": { enabled: true, recovery_codes_left: 10, required: false, passkeys: 0 },
      "GET /api/v1/auth/passkeys": { items: [] },
      "GET /api/v1/sso-providers": { items: [{ id: "p1", name: "GitHub", protocol: "github", issuer: "https://github.com", client_id: "c", allowed_domains: [], default_role: "viewer", sign_in_path: "/api/v1/auth/sso/p1/start", created_at: "2026-01-01T00:00:00Z" }] },
      "POST /api/v1/sso-providers": { status: 201, body: {} },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(<SecurityPage />);
    expect(await screen.findByText("https://github.com (GitHub OAuth)")).toBeInTheDocument();
    const form = screen.getByRole("form", { name: "Add a provider" });
    const user = userEvent.setup();
    await user.click(within(form).getByRole("textbox", { name: "Provider" }));
    await user.click(await screen.findByRole("option", { name: "Microsoft Entra ID" }));
    expect(within(form).getByRole("textbox", { name: /Name on the sign-in button/ })).toHaveValue("Microsoft Entra ID");
    await user.type(within(form).getByRole("textbox", { name: /Directory/ }), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    await user.type(within(form).getByRole("textbox", { name: /Client id/ }), "app-id");
    await user.type(within(form).getByLabelText(/Client secret/), "s3cret");
    await user.type(within(form).getByRole("textbox", { name: /E-mail domains/ }), "acme.test, Acme.example");
    await user.click(within(form).getByRole("button", { name: "Add provider" }));
    await vi.waitFor(() => expect(api.calls.find((c) => c.method === "POST")).toMatchObject({
      path: "/api/v1/sso-providers",
      body: { name: "Microsoft Entra ID", preset: "microsoft", issuer: null, directory: "72f988bf-86f1-41af-91ab-2d7cd011db47", client_id: "app-id", client_secret: "s3cret", allowed_domains: ["acme.test", "acme.example"], default_role: "viewer" },
    }));
  });
});
