/** The signed-in user's own sign-in security: two-factor (TOTP) enrolment, recovery codes (and
 * new ones), removal; passkeys; for owners and admins, the tenant's SSO providers; for owners,
 * its sign-in policy. */
import { useState } from "react";
import { Alert, Badge, Button, Card, Code, Group, Stack, Text, TextInput, Title } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { PageHeader } from "../components/PageHeader";
import { QueryView } from "../components/PageState";
import { SecretOnce } from "../components/SecretOnce";
import { PasskeysCard } from "../components/PasskeysCard";
import { SignInPolicy } from "../components/SignInPolicy";
import { SsoProvidersCard } from "../components/SsoProvidersCard";
import { useAuth } from "../auth/AuthContext";
import { applyProblem, notifySaved } from "../lib/forms";

function CodeForm({ label, action, onCode }: { label: string; action: string; onCode: (code: string) => Promise<void> }) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({ initialValues: { code: "" }, validate: { code: (v) => (v.trim() ? null : "Enter the code") } });
  const submit = form.onSubmit(async ({ code }) => {
    setFormError(null);
    try {
      await onCode(code.trim());
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label={action}>
      <Stack>
        {formError && <Alert color="red" role="alert">{formError}</Alert>}
        <TextInput label={label} autoComplete="one-time-code" required {...form.getInputProps("code")} />
        <Group justify="flex-end"><Button type="submit" loading={form.submitting}>{action}</Button></Group>
      </Stack>
    </form>
  );
}

export function SecurityPage() {
  const { me, canEdit } = useAuth();
  const queryClient = useQueryClient();
  const [enrolment, setEnrolment] = useState<Schemas["TotpEnrolment"] | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const query = useQuery({ queryKey: ["two-factor"], queryFn: () => unwrap(api.GET("/api/v1/auth/two-factor")) });
  const refresh = () => Promise.all([
    queryClient.invalidateQueries({ queryKey: ["two-factor"] }),
    queryClient.invalidateQueries({ queryKey: ["me"] }),
  ]);
  const start = async () => setEnrolment(await unwrap(api.POST("/api/v1/auth/two-factor/totp")));
  const confirm = async (code: string) => {
    const result = await unwrap(api.POST("/api/v1/auth/two-factor/totp/confirm", { body: { code } }));
    setEnrolment(null);
    setCodes(result.codes);
    await refresh();
  };
  const regenerate = async (code: string) => {
    const result = await unwrap(api.POST("/api/v1/auth/two-factor/recovery-codes", { body: { code } }));
    setCodes(result.codes);
    await refresh();
  };
  const disable = async (code: string) => {
    await unwrap(api.POST("/api/v1/auth/two-factor/disable", { body: { code } }));
    notifySaved("Two-factor sign-in removed");
    await refresh();
  };

  return (
    <>
      <PageHeader title="Security" description="How you sign in." />
      <Card withBorder>
        <QueryView query={query} what="two-factor sign-in">
          {(status) => (
            <Stack>
              <Group>
                <Title order={2} size="h4">Authenticator app</Title>
                <Badge color={status.enabled ? "green" : "gray"}>{status.enabled ? "On" : "Off"}</Badge>
              </Group>
              {status.required && !status.enabled && status.passkeys === 0 && (
                <Alert color="yellow" role="alert">This tenant requires two-factor sign-in for your role: set it up to continue.</Alert>
              )}
              {codes ? (
                <SecretOnce title="Your recovery codes: each signs in once if you lose your phone" secret={codes.join("\n")} onDone={() => setCodes(null)} />
              ) : status.enabled ? (
                <>
                  <Text size="sm">{status.recovery_codes_left} recovery codes left.</Text>
                  <Text size="sm" c="dimmed">New recovery codes replace the old ones, which stop working at once.</Text>
                  <CodeForm label="A code from your app, or a recovery code" action="Get new recovery codes" onCode={regenerate} />
                  <CodeForm label="A code from your app, or a recovery code" action="Remove two-factor" onCode={disable} />
                </>
              ) : enrolment ? (
                <>
                  <Text size="sm">Add this key to your authenticator app (or open the link on your phone), then enter the code it shows.</Text>
                  <Code block data-testid="totp-secret">{enrolment.secret}</Code>
                  <Text size="xs" c="dimmed" style={{ wordBreak: "break-all" }}>{enrolment.otpauth_uri}</Text>
                  <CodeForm label="Code from the app" action="Turn on" onCode={confirm} />
                </>
              ) : (
                <Group><Button onClick={() => void start()}>Set up an authenticator app</Button></Group>
              )}
            </Stack>
          )}
        </QueryView>
      </Card>
      <PasskeysCard />
      {canEdit && <SsoProvidersCard />}
      {me?.role === "owner" && <SignInPolicy />}
    </>
  );
}
