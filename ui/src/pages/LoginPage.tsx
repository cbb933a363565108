import { useEffect, useState } from "react";
import { Alert, Button, Center, Divider, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useDocumentTitle } from "@mantine/hooks";
import { IconActivity } from "@tabler/icons-react";
import { Navigate, useLocation, useNavigate, useSearchParams } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { api, type Schemas } from "../api/client";
import { ApiProblem, errorMessage, unwrap } from "../api/problem";
import { passkeysSupported } from "../lib/webauthn";

export function LoginPage() {
  const { me, login, secondFactor, passkeySecondFactor, passkeySignIn } = useAuth();
  useDocumentTitle("Sign in · Vocals");
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? "/";
  const [error, setError] = useState<string | null>(null);
  const [pendingToken, setPendingToken] = useState<string | null>(null);
  const [methods, setMethods] = useState<string[]>([]);
  // A recovery code stands in for a lost phone or a lost passkey.
  const withCode = methods.includes("totp") || methods.includes("recovery_code");
  const [notice, setNotice] = useState<string | null>(null);
  // The tenant's identity providers: from `?tenant=<name>` (a link an admin hands out), or
  // asked for by the e-mail's domain.
  const [searchParams] = useSearchParams();
  const tenant = searchParams.get("tenant");
  const [providers, setProviders] = useState<Schemas["SsoChoice"][] | null>(null);
  useEffect(() => {
    if (tenant === null) return;
    api.GET("/api/v1/auth/sso/providers", { params: { query: { tenant } } })
      .then(({ data }) => setProviders(data?.items ?? []))
      .catch(() => setProviders([]));
  }, [tenant]);
  const form = useForm({
    initialValues: { email: "", password: "", code: "" },
    validate: {
      email: (v) => (/^[^@\s]+@[^@\s]+$/.test(v) ? null : "Enter an e-mail address"),
      password: (v) => (v ? null : "Enter your password"),
      code: (v) => (pendingToken === null || !withCode || v.trim() ? null : "Enter the code"),
    },
  });

  if (me) return <Navigate to={from} replace />;

  const forgot = async () => {
    setError(null);
    if (form.validateField("email").hasError) return;
    try {
      const answer = await unwrap(api.POST("/api/v1/auth/password-reset", { body: { email: form.values.email } }));
      setNotice(answer.detail);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const findProviders = async () => {
    setError(null);
    setNotice(null);
    if (form.validateField("email").hasError) return;
    try {
      const found = await unwrap(api.GET("/api/v1/auth/sso/providers", { params: { query: { email: form.values.email } } }));
      if (found.items.length === 1) window.location.assign(found.items[0]!.sign_in_path);
      else if (found.items.length === 0) setNotice("No single sign-on is set up for this e-mail's domain: sign in with your password.");
      setProviders(found.items);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const withPasskey = async () => {
    setError(null);
    try {
      await (pendingToken === null ? passkeySignIn() : passkeySecondFactor(pendingToken));
      navigate(from, { replace: true });
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const submit = form.onSubmit(async ({ email, password, code }) => {
    setError(null);
    try {
      if (pendingToken === null) {
        const outcome = await login(email, password);
        if (!outcome.signedIn) {
          setPendingToken(outcome.pendingToken);
          setMethods(outcome.methods);
          return;
        }
      } else {
        await secondFactor(pendingToken, code.trim());
      }
      navigate(from, { replace: true });
    } catch (e) {
      if (e instanceof ApiProblem && e.status === 401 && pendingToken !== null) setError(e.message === "wrong code" ? "Wrong code." : errorMessage(e));
      else if (e instanceof ApiProblem && e.status === 401) setError("Wrong e-mail or password.");
      else setError(errorMessage(e));
    }
  });

  return (
    <Center mih="100vh" bg="gray.0" p="md">
      <Paper component="main" withBorder shadow="sm" p="xl" w="100%" maw={400}>
        <form onSubmit={submit} noValidate>
          <Stack>
            <Stack gap={4} align="center">
              <IconActivity size={36} color="var(--mantine-color-indigo-6)" aria-hidden />
              <Title order={1} size="h3">Sign in to Vocals</Title>
              <Text c="dimmed" size="sm">Manage your voice agents, trunks and calls.</Text>
            </Stack>
            {error && <Alert color="red" role="alert">{error}</Alert>}
            {notice && <Alert color="blue" role="status">{notice}</Alert>}
            <TextInput label="E-mail" type="email" autoComplete="username" required readOnly={pendingToken !== null} {...form.getInputProps("email")} />
            <PasswordInput label="Password" autoComplete="current-password" required readOnly={pendingToken !== null} {...form.getInputProps("password")} />
            {pendingToken !== null && methods.includes("passkey") && (
              <Button variant={withCode ? "default" : "filled"} onClick={() => void withPasskey()}>Use a passkey</Button>
            )}
            {pendingToken !== null && withCode && (
              <TextInput
                label="Code"
                description={methods.includes("totp") ? "From your authenticator app, or one of your recovery codes" : "One of your recovery codes, if your passkey is lost"}
                autoComplete="one-time-code"
                data-autofocus
                required
                {...form.getInputProps("code")}
              />
            )}
            {(pendingToken === null || withCode) && <Button type="submit" loading={form.submitting}>Sign in</Button>}
            {pendingToken === null && <Button variant="subtle" size="xs" onClick={() => void forgot()}>Forgot your password?</Button>}
            {pendingToken === null && (
              <>
                <Divider label="or" labelPosition="center" />
                {providers && providers.length > 0
                  ? providers.map((p) => (
                    <Button key={p.sign_in_path} component="a" href={p.sign_in_path} variant="default">Continue with {p.name}</Button>
                  ))
                  : <Button variant="default" onClick={() => void findProviders()}>Use single sign-on</Button>}
                {passkeysSupported() && <Button variant="default" onClick={() => void withPasskey()}>Use a passkey</Button>}
              </>
            )}
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
