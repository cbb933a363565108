import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { tokenStore } from "../api/client";
import { me } from "../test/fixtures";
import { fakeApi, renderWithApp } from "../test/render";
import { LoginPage } from "./LoginPage";

function app() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/calls" element={<p>calls page</p>} />
    </Routes>
  );
}

describe("LoginPage", () => {
  it("says the password is wrong on a 401 and stays on the page", async () => {
    const api = fakeApi({ "POST /api/v1/auth/login": { status: 401, body: { title: "Unauthorized", status: 401, detail: "invalid credentials" } } });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(app(), { route: "/login" });
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "E-mail" }), "owner@acme.test");
    await user.type(screen.getByLabelText(/^Password/), "nope");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong e-mail or password.");
    expect(tokenStore.get()).toBeNull();
  });

  it("stores the session and goes where the user was heading", async () => {
    const api = fakeApi({ "POST /api/v1/auth/login": { token: "tok-1", expires_in: 3600, user: me } });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(app(), { route: { pathname: "/login", state: { from: "/calls" } } });
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "E-mail" }), "owner@acme.test");
    await user.type(screen.getByLabelText(/^Password/), "correct-horse");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("calls page")).toBeInTheDocument();
    expect(tokenStore.get()).toBe("tok-1");
    expect(api.calls[0]).toMatchObject({ method: "POST", path: "/api/v1/auth/login", body: { email: "owner@acme.test", password: "correct-horse" } });
  });

  it("asks for the second factor when the account has one, then signs in with the code", async () => {
    const api = fakeApi({
      "POST /api/v1/auth/login": { status: 202, body: { pending_token: "pend-1", expires_in: 300, methods: ["totp", "recovery_code"] } },
      "POST /api/v1/auth/login/second-factor": { token: "tok-2", expires_in: 3600, user: me },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(app(), { route: { pathname: "/login", state: { from: "/calls" } } });
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "E-mail" }), "owner@acme.test");
    await user.type(screen.getByLabelText(/^Password/), "correct-horse");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    await user.type(await screen.findByRole("textbox", { name: /^Code/ }), "123456");
    expect(tokenStore.get()).toBeNull();
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("calls page")).toBeInTheDocument();
    expect(tokenStore.get()).toBe("tok-2");
    expect(api.calls[1]).toMatchObject({ method: "POST", path: "/api/v1/auth/login/second-factor", body: { pending_token: "pend-1", code: "123456" } });
  });

  it("asks for a reset link and says the same thing whoever asks", async () => {
    const detail = "if this e-mail has an account, a reset link is on its way";
    const api = fakeApi({ "POST /api/v1/auth/password-reset": { status: 202, body: { detail } } });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(app(), { route: "/login" });
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "E-mail" }), "owner@acme.test");
    await user.click(screen.getByRole("button", { name: "Forgot your password?" }));
    expect(await screen.findByRole("status")).toHaveTextContent(detail);
    expect(api.calls[0]).toMatchObject({ method: "POST", path: "/api/v1/auth/password-reset", body: { email: "owner@acme.test" } });
  });

  it("explains a rate limit with the wait the server asked for", async () => {
    const api = fakeApi({ "POST /api/v1/auth/login": { status: 429, body: { title: "Too Many Requests", status: 429, detail: "too many login attempts" } } });
    vi.stubGlobal("fetch", async (r: Request) => {
      const response = await api.fetch(r);
      const headers = new Headers(response.headers);
      headers.set("Retry-After", "42");
      return new Response(response.body, { status: response.status, headers });
    });
    renderWithApp(app(), { route: "/login" });
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "E-mail" }), "owner@acme.test");
    await user.type(screen.getByLabelText(/^Password/), "x");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("too many login attempts (retry in 42 s)");
  });

  it("offers the tenant's identity providers from a ?tenant= link", async () => {
    const api = fakeApi({ "GET /api/v1/auth/sso/providers": { items: [{ name: "Acme Okta", sign_in_path: "/api/v1/auth/sso/p1/start" }] } });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(app(), { route: "/login?tenant=acme" });
    expect(await screen.findByRole("link", { name: "Continue with Acme Okta" })).toHaveAttribute("href", "/api/v1/auth/sso/p1/start");
    expect(api.calls[0]).toMatchObject({ method: "GET", path: "/api/v1/auth/sso/providers?tenant=acme" });
  });

  it("looks single sign-on up by the e-mail's domain and says when there is none", async () => {
    const api = fakeApi({ "GET /api/v1/auth/sso/providers": { items: [] } });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(app(), { route: "/login" });
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Use single sign-on" }));
    expect(screen.getByText("Enter an e-mail address")).toBeInTheDocument();
    expect(api.calls).toHaveLength(0);
    await user.type(screen.getByRole("textbox", { name: "E-mail" }), "someone@acme.test");
    await user.click(screen.getByRole("button", { name: "Use single sign-on" }));
    expect(await screen.findByRole("status")).toHaveTextContent("No single sign-on is set up for this e-mail's domain");
    expect(api.calls[0]).toMatchObject({ path: "/api/v1/auth/sso/providers?email=someone%40acme.test" });
  });

  it("lists every provider the e-mail's domain may use", async () => {
    const items = [{ name: "Google", sign_in_path: "/api/v1/auth/sso/g/start" }, { name: "GitHub", sign_in_path: "/api/v1/auth/sso/h/start" }];
    vi.stubGlobal("fetch", fakeApi({ "GET /api/v1/auth/sso/providers": { items } }).fetch);
    renderWithApp(app(), { route: "/login" });
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "E-mail" }), "someone@acme.test");
    await user.click(screen.getByRole("button", { name: "Use single sign-on" }));
    expect(await screen.findByRole("link", { name: "Continue with GitHub" })).toHaveAttribute("href", "/api/v1/auth/sso/h/start");
    expect(screen.getByRole("link", { name: "Continue with Google" })).toBeInTheDocument();
  });

  it("signs in with a passkey when that is the account's second factor", async () => {
    const assertion = { id: "cred", rawId: "cred", type: "public-key", response: { signature: "c2ln" } };
    class FakeCredential {
      static parseRequestOptionsFromJSON(options: unknown) { return { parsed: options }; }
    }
    const get = vi.fn(async () => Object.assign(Object.create(FakeCredential.prototype) as object, { toJSON: () => assertion }));
    vi.stubGlobal("PublicKeyCredential", FakeCredential);
    vi.stubGlobal("navigator", { ...navigator, credentials: { get } });
    const api = fakeApi({
      "POST /api/v1/auth/login": { status: 202, body: { pending_token: "pend-2", expires_in: 300, methods: ["passkey"] } },
      "POST /api/v1/auth/login/passkey/options": { options: { challenge: "xyz", rpId: "localhost" } },
      "POST /api/v1/auth/login/passkey": { token: "tok-3", expires_in: 3600, user: me },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(app(), { route: { pathname: "/login", state: { from: "/calls" } } });
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "E-mail" }), "owner@acme.test");
    await user.type(screen.getByLabelText(/^Password/), "correct-horse");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    await user.click(await screen.findByRole("button", { name: "Use a passkey" }));
    expect(await screen.findByText("calls page")).toBeInTheDocument();
    expect(screen.queryByRole("textbox", { name: /^Code/ })).toBeNull();
    expect(tokenStore.get()).toBe("tok-3");
    expect(get).toHaveBeenCalledWith({ publicKey: { parsed: { challenge: "xyz", rpId: "localhost" } } });
    expect(api.calls[2]).toMatchObject({ path: "/api/v1/auth/login/passkey", body: { pending_token: "pend-2", credential: assertion } });
  });

  it("signs in with a passkey alone, no e-mail or password typed", async () => {
    const assertion = { id: "cred", rawId: "cred", type: "public-key", response: { signature: "c2ln", userHandle: "dQ" } };
    class FakeCredential {
      static parseCreationOptionsFromJSON(options: unknown) { return options; }
      static parseRequestOptionsFromJSON(options: unknown) { return { parsed: options }; }
    }
    const get = vi.fn(async () => Object.assign(Object.create(FakeCredential.prototype) as object, { toJSON: () => assertion }));
    vi.stubGlobal("PublicKeyCredential", FakeCredential);
    vi.stubGlobal("navigator", { ...navigator, credentials: { get } });
    const api = fakeApi({
      "POST /api/v1/auth/passkey-sign-in/options": { ceremony: "cer-1", options: { challenge: "xyz", rpId: "localhost", userVerification: "required" } },
      "POST /api/v1/auth/passkey-sign-in": { token: "tok-4", expires_in: 3600, user: me },
    });
    vi.stubGlobal("fetch", api.fetch);
    renderWithApp(app(), { route: { pathname: "/login", state: { from: "/calls" } } });
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Use a passkey" }));
    expect(await screen.findByText("calls page")).toBeInTheDocument();
    expect(tokenStore.get()).toBe("tok-4");
    expect(api.calls[1]).toMatchObject({ path: "/api/v1/auth/passkey-sign-in", body: { ceremony: "cer-1", credential: assertion } });
  });
});
