/** Pages reached from outside with a token in the URL's fragment (never sent to a server):
 * single sign-on's return, an invitation, a password reset. */
import { useEffect, useState } from "react";
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { useForm } from "@mantine/form";
import { Link, Navigate, useNavigate } from "react-router";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { applyProblem } from "../lib/forms";

function fragmentToken(): string | null {
  return new URLSearchParams(window.location.hash.slice(1)).get("token");
}

export function SsoLandingPage() {
  const { adopt } = useAuth();
  const navigate = useNavigate();
  const [token] = useState(fragmentToken);
  useEffect(() => {
    if (token) {
      adopt(token);
      navigate("/", { replace: true });
    }
  }, [token, adopt, navigate]);
  return token ? null : <Navigate to="/login" replace />;
}

function PasswordPage({ title, action, done, submit }: { title: string; action: string; done: string; submit: (token: string, password: string) => Promise<void> }) {
  const [token] = useState(fragmentToken);
  const [finished, setFinished] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { password: "" },
    validate: { password: (v) => (v.length >= 8 ? null : "At least 8 characters") },
  });
  const onSubmit = form.onSubmit(async ({ password }) => {
    setFormError(null);
    try {
      await submit(token ?? "", password);
      setFinished(true);
    } catch (error) {
      setFormError(applyProblem(form, error, ["password"]));
    }
  });
  return (
    <Center mih="100vh" bg="gray.0" p="md">
      <Paper component="main" withBorder shadow="sm" p="xl" w="100%" maw={400}>
        <Stack>
          <Title order={1} size="h3">{title}</Title>
          {finished ? (
            <Text>{done} <Link to="/login">Sign in</Link></Text>
          ) : (
            <form onSubmit={onSubmit} noValidate>
              <Stack>
                {!token && <Alert color="red" role="alert">This link is incomplete: open it from the e-mail again.</Alert>}
                {formError && <Alert color="red" role="alert">{formError}</Alert>}
                <PasswordInput label="New password" autoComplete="new-password" required {...form.getInputProps("password")} />
                <Button type="submit" loading={form.submitting} disabled={!token}>{action}</Button>
              </Stack>
            </form>
          )}
        </Stack>
      </Paper>
    </Center>
  );
}

export function AcceptInvitationPage() {
  const { adopt } = useAuth();
  const navigate = useNavigate();
  return (
    <PasswordPage title="Join Vocals" action="Choose password and sign in" done="Welcome."
      submit={async (token, password) => {
        const session = await unwrap(api.POST("/api/v1/auth/invitations/accept", { body: { token, password } }));
        adopt(session.token);
        navigate("/", { replace: true });
      }} />
  );
}

export function ResetPasswordPage() {
  return (
    <PasswordPage title="Choose a new password" action="Set password" done="Your password is changed; every other session has ended."
      submit={async (token, password) => {
        await unwrap(api.POST("/api/v1/auth/password-reset/confirm", { body: { token, password } }));
      }} />
  );
}
