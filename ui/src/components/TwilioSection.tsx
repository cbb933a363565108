/** The tenant's Twilio account (token write-only, shown masked), the webhook URLs to paste into
 * Twilio's console, and which routed numbers Twilio carries instead of Asterisk. */
import { useState } from "react";
import {
  ActionIcon, Alert, Button, Card, Code, CopyButton, Group, PasswordInput, SimpleGrid, Stack, Switch, Table, Text, TextInput, Title, Tooltip,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { modals } from "@mantine/modals";
import { IconCheck, IconCopy } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { applyProblem, focusFirstError, notifyFailed, notifySaved } from "../lib/forms";
import { numbersChanged, useAllAgents } from "../lib/queries";
import { EmptyState, QueryView } from "./PageState";

type Twilio = Schemas["TwilioOut"];
const TWILIO = ["twilio"];
// Other admins (and the API) change the account and numbers too; as often as the trunks above.
const REFRESH_MS = 15_000;

function WebhookUrl({ label, url }: { label: string; url: string }) {
  return (
    <Stack gap={2}>
      <Text size="sm" fw={500}>{label}</Text>
      <Group gap="xs" wrap="nowrap">
        <Code style={{ wordBreak: "break-all" }}>{url}</Code>
        <CopyButton value={url}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? "Copied" : "Copy"}>
              <ActionIcon variant="subtle" aria-label={`Copy ${label}`} onClick={copy}>
                {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
    </Stack>
  );
}

export function TwilioAccountForm({ connected, onSaved }: { connected: boolean; onSaved: (account: Schemas["TwilioAccountOut"]) => void }) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { account_sid: "", auth_token: "" },
    validate: {
      account_sid: (v) => (v.trim() ? null : "Enter the Account SID from Twilio's console"),
      auth_token: (v) => (v.trim() ? null : "Enter the auth token"),
    },
  });
  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    try {
      const account = await unwrap(api.PUT("/api/v1/twilio/account", { body: { account_sid: v.account_sid.trim(), auth_token: v.auth_token.trim() } }));
      form.reset();
      notifySaved(connected ? "Twilio account replaced" : "Twilio account connected");
      onSaved(account);
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  }, focusFirstError);
  return (
    <form onSubmit={submit} noValidate aria-label="Twilio account">
      <Stack gap="sm">
        {formError && <Alert color="red" role="alert" title="Not saved">{formError}</Alert>}
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
          <TextInput label="Account SID" required placeholder="AC…" autoComplete="off" {...form.getInputProps("account_sid")} />
          <PasswordInput label="Auth token" required autoComplete="new-password" {...form.getInputProps("auth_token")} />
        </SimpleGrid>
        <Group justify="flex-end">
          <Button type="submit" loading={form.submitting}>{connected ? "Replace account" : "Connect account"}</Button>
        </Group>
      </Stack>
    </form>
  );
}

function Numbers({ twilio }: { twilio: Twilio }) {
  const { canEdit } = useAuth();
  const queryClient = useQueryClient();
  const agents = useAllAgents();
  const onTwilio = new Set(twilio.numbers.map((n) => n.did));
  // Every routed number, with the agent answering it; Twilio's list covers numbers not loaded.
  const routes = new Map<string, string>(twilio.numbers.map((n) => [n.did, n.agent_id]));
  const names = new Map<string, string>();
  for (const agent of agents.data?.items ?? []) {
    names.set(agent.id, agent.name);
    for (const did of agent.inbound_numbers) routes.set(did, agent.id);
  }
  const toggle = useMutation({
    mutationFn: ({ did, on }: { did: string; on: boolean }) => {
      const params = { params: { path: { did } } };
      return on ? unwrap(api.PUT("/api/v1/twilio/numbers/{did}", params)) : unwrap(api.DELETE("/api/v1/twilio/numbers/{did}", params));
    },
    // The switch moves at once; a refusal puts it back.
    onMutate: async ({ did, on }) => {
      await queryClient.cancelQueries({ queryKey: TWILIO });
      const before = queryClient.getQueryData<Twilio>(TWILIO);
      const agentId = routes.get(did);
      if (before && agentId !== undefined) {
        const others = before.numbers.filter((n) => n.did !== did);
        queryClient.setQueryData<Twilio>(TWILIO, { ...before, numbers: on ? [...others, { did, agent_id: agentId }] : others });
      }
      return { before };
    },
    onSuccess: (_, { did, on }) => notifySaved(on ? `Twilio now carries ${did}` : `${did} is back on Asterisk`),
    onError: (error, _, context) => {
      if (context?.before) queryClient.setQueryData(TWILIO, context.before);
      notifyFailed(error);
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: TWILIO }),
  });
  const rows = [...routes].sort(([a], [b]) => a.localeCompare(b));
  if (rows.length === 0) return <EmptyState title="No routed numbers">Give an agent an inbound number, then let Twilio carry it here.</EmptyState>;
  return (
    <Table aria-label="Twilio numbers">
      <Table.Thead><Table.Tr><Table.Th>Number</Table.Th><Table.Th>Agent</Table.Th><Table.Th>Carried by Twilio</Table.Th></Table.Tr></Table.Thead>
      <Table.Tbody>
        {rows.map(([did, agentId]) => {
          const on = onTwilio.has(did);
          return (
            <Table.Tr key={did}>
              <Table.Td ff="monospace">{did}</Table.Td>
              <Table.Td>{names.get(agentId) ?? "unknown agent"}</Table.Td>
              <Table.Td>
                <Switch aria-label={`Twilio carries ${did}`} checked={on}
                  disabled={!canEdit || toggle.isPending || (!on && twilio.account === null)}
                  onChange={(e) => toggle.mutate({ did, on: e.currentTarget.checked })} />
              </Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}

export function TwilioSection() {
  const { canEdit } = useAuth();
  const queryClient = useQueryClient();
  const query = useQuery({ queryKey: TWILIO, queryFn: () => unwrap(api.GET("/api/v1/twilio")), refetchInterval: REFRESH_MS });
  // The account as the API now has it, shown at once; then everything read again.
  const accountChanged = (account: Twilio["account"]) => {
    queryClient.setQueryData<Twilio>(TWILIO, (before) => (before ? { ...before, account } : before));
    void numbersChanged(queryClient);
  };
  const disconnect = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/twilio/account")),
    onSuccess: () => {
      accountChanged(null);
      notifySaved("Twilio account disconnected");
    },
    onError: notifyFailed,
  });

  return (
    <Stack mt="xl" gap="sm" component="section" aria-labelledby="twilio-title">
      <Stack gap={2}>
        <Title order={2} size="h3" id="twilio-title">Twilio</Title>
        <Text c="dimmed" size="sm">Numbers Twilio carries reach their agents over Twilio instead of a SIP trunk, and their agents call out through it.</Text>
      </Stack>
      <QueryView query={query} what="the Twilio account">
        {(twilio) => (
          <>
            <Card withBorder>
              <Stack gap="sm">
                {twilio.account ? (
                  <Group justify="space-between" align="flex-start">
                    <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="xs">
                      <Text size="sm">Account SID <Code>{twilio.account.account_sid}</Code></Text>
                      <Text size="sm">Auth token <Code>{twilio.account.auth_token}</Code></Text>
                    </SimpleGrid>
                    {canEdit && (
                      <Button variant="light" color="red" size="xs"
                        onClick={() => modals.openConfirmModal({
                          title: "Disconnect the Twilio account?",
                          children: "Calls to and from its numbers stop until an account is connected again.",
                          labels: { confirm: "Disconnect", cancel: "Cancel" }, confirmProps: { color: "red" },
                          onConfirm: () => disconnect.mutate(),
                        })}>Disconnect</Button>
                    )}
                  </Group>
                ) : (
                  <Text size="sm" c="dimmed">No Twilio account connected.</Text>
                )}
                <SimpleGrid cols={{ base: 1, md: 2 }} spacing="sm">
                  <WebhookUrl label="A call comes in (webhook, HTTP POST)" url={twilio.voice_url} />
                  <WebhookUrl label="Call status changes" url={twilio.status_url} />
                </SimpleGrid>
                {canEdit && <TwilioAccountForm connected={twilio.account !== null} onSaved={accountChanged} />}
              </Stack>
            </Card>
            <Card withBorder p={0}>
              <Numbers twilio={twilio} />
            </Card>
          </>
        )}
      </QueryView>
    </Stack>
  );
}
