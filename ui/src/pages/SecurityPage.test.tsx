import { screen } from "@testing-library/react";
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
      "GET /api/v1/auth/me": me,
      "GET /api/v1/auth/two-factor": { enabled: false, recovery_codes_left: 0, required: true },
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
});
