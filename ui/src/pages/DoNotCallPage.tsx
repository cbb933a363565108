/** The tenant's do-not-call list: numbers no campaign or API call dials. Search, add, remove
 * (asked first), import from CSV with a report of every bad row, and export. */
import { useState } from "react";
import { ActionIcon, Alert, Anchor, Button, Card, Group, SimpleGrid, Stack, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useDebouncedValue } from "@mantine/hooks";
import { modals } from "@mantine/modals";
import { IconDownload, IconSearch, IconTrash } from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, downloadFile } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { CsvImport } from "../components/CsvImport";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import { formatDateTime, label } from "../lib/format";
import { applyProblem, focusFirstError, notifyRefused, notifySaved } from "../lib/forms";

const LIMIT = 50;
// Typing a number searches once the typing pauses, not on every digit.
const SEARCH_DEBOUNCE_MS = 300;

function AddNumber() {
  const queryClient = useQueryClient();
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { number: "", reason: "" },
    validate: { number: (v) => (v.trim() ? null : "Enter the number, with its +country code") },
  });
  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    try {
      const entry = await unwrap(api.POST("/api/v1/do-not-call", { body: { number: v.number.trim(), reason: v.reason.trim() } }));
      await queryClient.invalidateQueries({ queryKey: ["do-not-call"] });
      notifySaved(`${entry.number} is on the do-not-call list`);
      form.reset();
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  }, focusFirstError);
  return (
    <form onSubmit={submit} noValidate aria-label="Add a number">
      <Stack gap="sm">
        {formError && <Alert color="red" role="alert" title="Not added">{formError}</Alert>}
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
          <TextInput label="Number" required placeholder="+14155550100" {...form.getInputProps("number")} />
          <TextInput label="Reason" placeholder="e.g. asked by e-mail" maxLength={500} {...form.getInputProps("reason")} />
        </SimpleGrid>
        <Group justify="flex-end"><Button type="submit" loading={form.submitting}>Add to the list</Button></Group>
      </Stack>
    </form>
  );
}

function ImportNumbers() {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const importCsv = async (csv: string) => {
    const result = await unwrap(api.POST("/api/v1/do-not-call/import", { body: { csv, reason: reason.trim() } }));
    await queryClient.invalidateQueries({ queryKey: ["do-not-call"] });
    return `${result.added} number${result.added === 1 ? "" : "s"} added${result.already_listed ? `, ${result.already_listed} already listed` : ""}.`;
  };
  return (
    <CsvImport label="Import numbers" onImport={importCsv}
      hint="A header row naming a number column; other columns are ignored. One bad row imports nothing."
      extra={<TextInput label="Reason for every imported number" maxLength={500} value={reason} onChange={(e) => setReason(e.currentTarget.value)} />} />
  );
}

export function DoNotCallPage() {
  const { canEdit } = useAuth();
  const queryClient = useQueryClient();
  const [search, setSearch] = useState("");
  const [number] = useDebouncedValue(search.trim(), SEARCH_DEBOUNCE_MS);
  const [offset, setOffset] = useState(0);
  const list = useQuery({
    queryKey: ["do-not-call", number, offset],
    queryFn: () => unwrap(api.GET("/api/v1/do-not-call", { params: { query: { number: number || undefined, limit: LIMIT, offset } } })),
    placeholderData: keepPreviousData,
  });
  const remove = useMutation({
    mutationFn: (n: string) => unwrap(api.DELETE("/api/v1/do-not-call/{number}", { params: { path: { number: n } } })),
    onSuccess: (_, n) => {
      notifySaved(`${n} taken off the do-not-call list`);
      return queryClient.invalidateQueries({ queryKey: ["do-not-call"] });
    },
    onError: (error, n) => notifyRefused(`${n} not removed`, error),
  });
  const confirmRemove = (n: string) => modals.openConfirmModal({
    title: `Take ${n} off the list?`,
    children: <Text size="sm">Campaigns and API calls may dial {n} again.</Text>,
    labels: { confirm: "Remove", cancel: "Keep it" }, confirmProps: { color: "red" },
    onConfirm: () => remove.mutate(n),
  });
  const exportList = async () => {
    try {
      await downloadFile("/api/v1/do-not-call/export", "do-not-call.csv");
    } catch (error) {
      notifyRefused("Export failed", error);
    }
  };
  return (
    <>
      <PageHeader title="Do not call" description="Numbers no campaign and no API call dials; callers who ask to stop are added at once."
        actions={<Button variant="default" leftSection={<IconDownload size={16} />} onClick={() => void exportList()}>Export CSV</Button>} />
      <Stack>
        <Card withBorder>
          <TextInput label="Search" placeholder="Part of a number" leftSection={<IconSearch size={16} />} mb="sm" w={{ base: "100%", sm: 320 }}
            value={search} onChange={(e) => { setSearch(e.currentTarget.value); setOffset(0); }} />
          <QueryView query={list} what="the do-not-call list">
            {(page) => page.items.length === 0 ? (
              <EmptyState title={number ? "No number matches" : "The list is empty"}>
                {number ? "Try fewer digits." : "Add numbers below, or import a CSV."}
              </EmptyState>
            ) : (
              <>
                <Table.ScrollContainer minWidth={640}>
                  <Table striped aria-label="Do-not-call numbers">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Number</Table.Th><Table.Th>Source</Table.Th><Table.Th>Reason</Table.Th><Table.Th>Added</Table.Th>
                        <Table.Th className="row-actions"><span className="sr-only">Actions</span></Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {page.items.map((e) => (
                        <Table.Tr key={e.number}>
                          <Table.Td><Text size="sm" ff="monospace">{e.number}</Text></Table.Td>
                          <Table.Td>
                            {label(e.source)}
                            {e.call_id && <> · <Anchor component={Link} to={`/calls/${e.call_id}`} size="sm">the call</Anchor></>}
                          </Table.Td>
                          <Table.Td>{e.reason || <Text span c="dimmed" size="sm">—</Text>}</Table.Td>
                          <Table.Td>{formatDateTime(e.created_at)}</Table.Td>
                          <Table.Td className="row-actions">
                            {canEdit && (
                              <Tooltip label="Remove">
                                <ActionIcon variant="subtle" color="red" aria-label={`Remove ${e.number}`} onClick={() => confirmRemove(e.number)}>
                                  <IconTrash size={18} />
                                </ActionIcon>
                              </Tooltip>
                            )}
                          </Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </Table.ScrollContainer>
                <Pager total={page.total} limit={LIMIT} offset={offset} onOffset={setOffset} />
              </>
            )}
          </QueryView>
        </Card>
        {canEdit && (
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <Card withBorder><Title order={2} size="h4" mb="sm">Add a number</Title><AddNumber /></Card>
            <Card withBorder><Title order={2} size="h4" mb="sm">Import a CSV</Title><ImportNumbers /></Card>
          </SimpleGrid>
        )}
      </Stack>
    </>
  );
}
