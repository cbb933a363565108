/** The signed-in user's passkeys (a second factor): add one with this device's authenticator,
 * see when each was last used, remove one. */
import { useState } from "react";
import { ActionIcon, Alert, Button, Card, Group, Stack, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { useForm } from "@mantine/form";
import { IconTrash } from "@tabler/icons-react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { errorMessage, unwrap } from "../api/problem";
import { formatDateTime } from "../lib/format";
import { notifySaved } from "../lib/forms";
import { createPasskey, passkeysSupported } from "../lib/webauthn";
import { QueryView } from "./PageState";
import { SecretOnce } from "./SecretOnce";

export function PasskeysCard() {
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const query = useQuery({ queryKey: ["passkeys"], queryFn: () => unwrap(api.GET("/api/v1/auth/passkeys")) });
  const form = useForm({ initialValues: { name: "" }, validate: { name: (v) => (v.trim() ? null : "Name this passkey") } });
  const refresh = () => Promise.all(["passkeys", "two-factor", "me"].map((key) => queryClient.invalidateQueries({ queryKey: [key] })));

  const add = form.onSubmit(async ({ name }) => {
    setError(null);
    try {
      const { options } = await unwrap(api.POST("/api/v1/auth/passkeys/registration-options"));
      const credential = await createPasskey(options);
      const added = await unwrap(api.POST("/api/v1/auth/passkeys", { body: { name: name.trim(), credential } }));
      if (added.recovery_codes.length > 0) setCodes(added.recovery_codes);
      form.reset();
      notifySaved("Passkey added");
      await refresh();
    } catch (e) {
      setError(errorMessage(e));
    }
  });
  const remove = async (id: string) => {
    setError(null);
    try {
      await unwrap(api.DELETE("/api/v1/auth/passkeys/{passkey_id}", { params: { path: { passkey_id: id } } }));
      notifySaved("Passkey removed");
      await refresh();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <Card withBorder mt="md">
      <Stack>
        <Title order={2} size="h4">Passkeys</Title>
        <Text size="sm" c="dimmed">A security key, or this device's fingerprint or PIN, as a second factor.</Text>
        {error && <Alert color="red" role="alert">{error}</Alert>}
        {codes && <SecretOnce title="Your recovery codes: each signs in once if you lose your passkey" secret={codes.join("\n")} onDone={() => setCodes(null)} />}
        <QueryView query={query} what="passkeys">
          {({ items }) => items.length === 0 ? <Text size="sm">No passkey yet.</Text> : (
            <Table aria-label="Passkeys">
              <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Added</Table.Th><Table.Th>Last used</Table.Th><Table.Th /></Table.Tr></Table.Thead>
              <Table.Tbody>
                {items.map((p) => (
                  <Table.Tr key={p.id}>
                    <Table.Td>{p.name}</Table.Td>
                    <Table.Td>{formatDateTime(p.created_at)}</Table.Td>
                    <Table.Td>{p.last_used_at ? formatDateTime(p.last_used_at) : "never"}</Table.Td>
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
        {passkeysSupported() ? (
          <form onSubmit={add} noValidate aria-label="Add a passkey">
            <Group align="flex-end">
              <TextInput label="Passkey name" placeholder="e.g. YubiKey, laptop" required {...form.getInputProps("name")} />
              <Button type="submit" loading={form.submitting}>Add a passkey</Button>
            </Group>
          </form>
        ) : <Text size="sm" c="dimmed">This browser cannot make passkeys.</Text>}
      </Stack>
    </Card>
  );
}
