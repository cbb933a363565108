/** Prices: the shipped defaults per vendor and model, and the tenant's own rows that replace
 * them (owners and admins edit; every call is priced with the prices of the moment it ends). */
import { ActionIcon, Alert, Button, Card, Group, NumberInput, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { PageHeader } from "../components/PageHeader";
import { QueryView } from "../components/PageState";
import { notifySaved } from "../lib/forms";

type Price = Schemas["Price"];
type Rate = "per_audio_minute" | "per_million_characters" | "per_million_input_tokens" | "per_million_output_tokens";

const RATES: { key: Rate; label: string }[] = [
  { key: "per_audio_minute", label: "audio minute" },
  { key: "per_million_characters", label: "1M characters" },
  { key: "per_million_input_tokens", label: "1M input tokens" },
  { key: "per_million_output_tokens", label: "1M output tokens" },
];
const KINDS = [{ value: "stt", label: "STT" }, { value: "llm", label: "LLM" }, { value: "tts", label: "TTS" }];

function blank(): Price {
  return { kind: "llm", vendor: "", model: "*", per_audio_minute: 0, per_million_characters: 0, per_million_input_tokens: 0, per_million_output_tokens: 0 };
}

function DefaultsTable({ prices }: { prices: Price[] }) {
  return (
    <Table.ScrollContainer minWidth={640}>
      <Table fz="sm" withTableBorder aria-label="Default prices">
        <Table.Thead><Table.Tr><Table.Th>Kind</Table.Th><Table.Th>Vendor</Table.Th><Table.Th>Model</Table.Th>{RATES.map((r) => <Table.Th key={r.key}>Per {r.label}</Table.Th>)}</Table.Tr></Table.Thead>
        <Table.Tbody>
          {prices.map((p) => (
            <Table.Tr key={`${p.kind}:${p.vendor}:${p.model}`}>
              <Table.Td>{p.kind.toUpperCase()}</Table.Td><Table.Td>{p.vendor}</Table.Td><Table.Td>{p.model}</Table.Td>
              {RATES.map((r) => <Table.Td key={r.key}>{p[r.key] ? `$${p[r.key]}` : "—"}</Table.Td>)}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function OwnPrices({ saved, canEdit }: { saved: Price[]; canEdit: boolean }) {
  const queryClient = useQueryClient();
  const [rows, setRows] = useState<Price[]>(saved);
  useEffect(() => setRows(saved), [saved]);
  const save = useMutation({
    mutationFn: () => unwrap(api.PUT("/api/v1/prices", { body: { prices: rows } })),
    onSuccess: (data) => { queryClient.setQueryData(["prices"], data); notifySaved("Prices saved"); },
  });
  const edit = (index: number, change: Partial<Price>) => setRows(rows.map((r, i) => (i === index ? { ...r, ...change } : r)));

  return (
    <Stack>
      {save.error && <Alert color="red" role="alert" title="Not saved">{save.error.message}</Alert>}
      {rows.length === 0 && <Text size="sm" c="dimmed">None: every call is priced with the defaults below.</Text>}
      {rows.map((row, index) => (
        <Group key={index} align="flex-end" wrap="wrap" gap="xs" aria-label={`Price ${index + 1}`} role="group">
          <Select label="Kind" w={90} data={KINDS} allowDeselect={false} value={row.kind} disabled={!canEdit}
            onChange={(v) => edit(index, { kind: (v ?? "llm") as Price["kind"] })} />
          <TextInput label="Vendor" w={150} value={row.vendor} disabled={!canEdit} onChange={(e) => edit(index, { vendor: e.currentTarget.value })} />
          <TextInput label="Model" w={170} description="* for any other" value={row.model ?? "*"} disabled={!canEdit}
            onChange={(e) => edit(index, { model: e.currentTarget.value })} />
          {RATES.map((r) => (
            <NumberInput key={r.key} label={`$ per ${r.label}`} w={150} min={0} decimalScale={6} value={row[r.key] ?? 0} disabled={!canEdit}
              onChange={(v) => edit(index, { [r.key]: typeof v === "number" ? v : 0 })} />
          ))}
          {canEdit && (
            <ActionIcon variant="subtle" color="red" aria-label={`Remove price ${index + 1}`} onClick={() => setRows(rows.filter((_, i) => i !== index))}>
              <IconTrash size={16} />
            </ActionIcon>
          )}
        </Group>
      ))}
      {canEdit && (
        <Group>
          <Button variant="light" leftSection={<IconPlus size={16} />} onClick={() => setRows([...rows, blank()])}>Add a price</Button>
          <Button loading={save.isPending} onClick={() => save.mutate()}>Save prices</Button>
        </Group>
      )}
    </Stack>
  );
}

export function PricesPage() {
  const { canEdit } = useAuth();
  const query = useQuery({ queryKey: ["prices"], queryFn: () => unwrap(api.GET("/api/v1/prices")) });
  return (
    <>
      <PageHeader title="Prices" description="What each vendor's usage costs, applied to every call when it ends." />
      <QueryView query={query} what="the prices">
        {(prices) => (
          <Stack>
            <Card withBorder>
              <Title order={2} size="h5" mb="xs">Your prices</Title>
              <Text size="xs" c="dimmed" mb="sm">Each row replaces the default of the same kind, vendor and model, in {prices.currency}.</Text>
              <OwnPrices saved={prices.prices} canEdit={canEdit} />
            </Card>
            <Card withBorder>
              <Title order={2} size="h5" mb="xs">Defaults</Title>
              <Text size="xs" c="dimmed" mb="sm">
                Checked against the vendors' published prices on {prices.defaults_checked}. Offline vendors cost nothing; a vendor with no price shows as unpriced on a call.
              </Text>
              <DefaultsTable prices={prices.defaults} />
            </Card>
          </Stack>
        )}
      </QueryView>
    </>
  );
}
