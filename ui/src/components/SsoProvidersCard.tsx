/** The tenant's single sign-on providers, for owners and admins: add one from a preset
 * (Google, Microsoft Entra ID, GitHub) or any OpenID Connect issuer, see them, remove one. */
import { useState } from "react";
import { ActionIcon, Alert, Button, Card, Code, Group, PasswordInput, Select, Stack, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { useForm } from "@mantine/form";
import { IconTrash } from "@tabler/icons-react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { errorMessage, unwrap } from "../api/problem";
import { applyProblem, notifySaved } from "../lib/forms";
import { QueryView } from "./PageState";

type Kind = "oidc" | NonNullable<Schemas["SsoProviderCreate"]["preset"]>;
const KINDS: { value: Kind; label: string }[] = [
  { value: "google", label: "Google" },
  { value: "microsoft", label: "Microsoft Entra ID" },
  { value: "github", label: "GitHub" },
  { value: "oidc", label: "Another OpenID Connect provider" },
];

function ProviderForm({ onDone }: { onDone: () => Promise<void> }) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { kind: "google" as Kind, name: "Google", issuer: "", directory: "", client_id: "", client_secret: "", allowed_domains: "", default_role: "viewer" as Schemas["SsoProviderCreate"]["default_role"] },
    validate: {
      name: (v) => (v.trim() ? null : "Name it as users will see it"),
      client_id: (v) => (v.trim() ? null : "Paste the client id"),
      client_secret: (v) => (v ? null : "Paste the client secret"),
      issuer: (v, values) => (values.kind !== "oidc" || v.trim() ? null : "Enter the issuer URL"),
      directory: (v, values) => (values.kind !== "microsoft" || v.trim() ? null : "Enter the directory (tenant) id"),
    },
  });
  const kind = form.values.kind;
  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    const body: Schemas["SsoProviderCreate"] = {
      name: v.name.trim(),
      preset: v.kind === "oidc" ? null : v.kind,
      issuer: v.issuer.trim() || null,
      directory: v.kind === "microsoft" ? v.directory.trim() : null,
      client_id: v.client_id.trim(),
      client_secret: v.client_secret,
      allowed_domains: v.allowed_domains.split(/[\s,]+/).map((d) => d.trim().toLowerCase()).filter(Boolean),
      default_role: v.default_role,
    };
    try {
      await unwrap(api.POST("/api/v1/sso-providers", { body }));
      form.reset();
      notifySaved("Provider added");
      await onDone();
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label="Add a provider">
      <Stack>
        {formError && <Alert color="red" role="alert">{formError}</Alert>}
        <Select
          label="Provider"
          allowDeselect={false}
          data={KINDS}
          {...form.getInputProps("kind")}
          onChange={(value) => {
            const next = (value ?? "google") as Kind;
            form.setFieldValue("kind", next);
            form.setFieldValue("name", next === "oidc" ? "" : KINDS.find((k) => k.value === next)!.label);
          }}
        />
        <TextInput label="Name on the sign-in button" required {...form.getInputProps("name")} />
        {(kind === "oidc" || kind === "github") && (
          <TextInput
            label={kind === "github" ? "GitHub Enterprise Server address" : "Issuer URL"}
            description={kind === "github" ? "Leave empty for github.com" : undefined}
            required={kind === "oidc"}
            {...form.getInputProps("issuer")}
          />
        )}
        {kind === "microsoft" && (
          <TextInput label="Directory (tenant) id" description="Add the optional claims email and xms_edov to the app registration." required {...form.getInputProps("directory")} />
        )}
        <TextInput label="Client id" required {...form.getInputProps("client_id")} />
        <PasswordInput label="Client secret" required autoComplete="off" {...form.getInputProps("client_secret")} />
        <TextInput label="E-mail domains that may sign up" description="Comma-separated; others must already have an account." {...form.getInputProps("allowed_domains")} />
        <Select label="Role of those who sign up" allowDeselect={false} data={[{ value: "viewer", label: "Viewer" }, { value: "admin", label: "Admin" }]} {...form.getInputProps("default_role")} />
        <Group justify="flex-end"><Button type="submit" loading={form.submitting}>Add provider</Button></Group>
      </Stack>
    </form>
  );
}

export function SsoProvidersCard() {
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const query = useQuery({ queryKey: ["sso-providers"], queryFn: () => unwrap(api.GET("/api/v1/sso-providers")) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["sso-providers"] });
  const remove = async (id: string) => {
    setError(null);
    try {
      await unwrap(api.DELETE("/api/v1/sso-providers/{provider_id}", { params: { path: { provider_id: id } } }));
      notifySaved("Provider removed");
      await refresh();
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <Card withBorder mt="md">
      <Stack>
        <Title order={2} size="h4">Single sign-on</Title>
        <Text size="sm">Redirect URI to register at the provider: <Code>{`${window.location.origin}/api/v1/auth/sso/callback`}</Code></Text>
        {error && <Alert color="red" role="alert">{error}</Alert>}
        <QueryView query={query} what="SSO providers">
          {({ items }) => items.length === 0 ? <Text size="sm">No provider yet.</Text> : (
            <Table aria-label="SSO providers">
              <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Issuer</Table.Th><Table.Th>Sign-up domains</Table.Th><Table.Th /></Table.Tr></Table.Thead>
              <Table.Tbody>
                {items.map((p) => (
                  <Table.Tr key={p.id}>
                    <Table.Td>{p.name}</Table.Td>
                    <Table.Td>{p.issuer}{p.protocol === "github" ? " (GitHub OAuth)" : ""}</Table.Td>
                    <Table.Td>{p.allowed_domains.join(", ") || "none"}</Table.Td>
                    <Table.Td>
                      <Tooltip label={`Remove ${p.name}`}>
                        <ActionIcon variant="subtle" color="red" aria-label={`Remove ${p.name}`} onClick={() => void remove(p.id)}><IconTrash size={16} /></ActionIcon>
                      </Tooltip>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </QueryView>
        <ProviderForm onDone={refresh} />
      </Stack>
    </Card>
  );
}
