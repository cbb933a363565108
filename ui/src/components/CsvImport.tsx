/** Importing a CSV, uploaded or pasted, with the API's report of every bad row: one bad row
 * refuses the whole import, so each is listed by line for the admin to fix and try again. */
import { useState, type ReactNode } from "react";
import { Alert, Button, FileInput, Group, SegmentedControl, Stack, Table, Text, Textarea } from "@mantine/core";
import { IconFileUpload } from "@tabler/icons-react";
import { ApiProblem, errorMessage } from "../api/problem";
import { rowErrors, type RowError } from "../lib/campaigns";

// The API takes up to 1 MB of CSV text per import (MAX_IMPORT_CHARS, LeadsCsv.csv).
const MAX_CSV_CHARS = 1_000_000;

/** A chosen file's text (FileReader: what every browser, and jsdom, has). */
function readText(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error(`Could not read ${file.name}`));
    reader.readAsText(file);
  });
}

export function CsvImport({ label, hint, extra, onImport }: {
  label: string;
  hint: ReactNode;
  extra?: ReactNode;
  /** Sends the CSV; resolves to what was done, in words. */
  onImport: (csv: string) => Promise<string>;
}) {
  const [mode, setMode] = useState<"file" | "paste">("file");
  const [file, setFile] = useState<File | null>(null);
  const [pasted, setPasted] = useState("");
  const [rows, setRows] = useState<RowError[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setRows([]); setError(null); setDone(null);
    let csv = pasted;
    if (mode === "file") {
      try {
        csv = file ? await readText(file) : "";
      } catch (e) {
        return setError(errorMessage(e));
      }
    }
    if (!csv.trim()) return setError(mode === "file" ? "Choose a CSV file first." : "Paste the CSV first.");
    if (csv.length > MAX_CSV_CHARS) return setError("The CSV is over 1 MB: import it in parts.");
    setBusy(true);
    try {
      setDone(await onImport(csv));
      setFile(null); setPasted("");
    } catch (e) {
      const problem = e instanceof ApiProblem ? e : null;
      const found = problem ? rowErrors(problem.fieldErrors) : [];
      setRows(found.filter((r) => r.line > 0));
      const general = found.filter((r) => r.line === 0).map((r) => r.reason);
      setError(general.length ? general.join("; ") : found.length ? `Nothing was imported: ${found.length} row${found.length === 1 ? "" : "s"} to correct.` : errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate aria-label={label}>
      <Stack gap="sm">
        <SegmentedControl value={mode} onChange={(v) => setMode(v as "file" | "paste")} w="fit-content"
          aria-label="CSV source" data={[{ value: "file", label: "Upload a file" }, { value: "paste", label: "Paste" }]} />
        {mode === "file" ? (
          <FileInput label="CSV file" accept=".csv,text/csv,text/plain" clearable value={file} onChange={setFile}
            leftSection={<IconFileUpload size={16} />} description={hint} placeholder="Choose a file" />
        ) : (
          <Textarea label="CSV text" description={hint} autosize minRows={4} maxRows={12} value={pasted}
            onChange={(e) => setPasted(e.currentTarget.value)} styles={{ input: { fontFamily: "monospace" } }} />
        )}
        {extra}
        {error && <Alert color="red" role="alert" title="Not imported">{error}</Alert>}
        {rows.length > 0 && (
          <Table.ScrollContainer minWidth={360}>
            <Table aria-label="Rows to correct" striped>
              <Table.Thead><Table.Tr><Table.Th>Line</Table.Th><Table.Th>Column</Table.Th><Table.Th>Problem</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {rows.map((r) => (
                  <Table.Tr key={`${r.line}-${r.column}`}><Table.Td>{r.line}</Table.Td><Table.Td>{r.column}</Table.Td><Table.Td>{r.reason}</Table.Td></Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        {done && <Text size="sm" c="green" aria-live="polite">{done}</Text>}
        <Group justify="flex-end"><Button type="submit" loading={busy}>Import</Button></Group>
      </Stack>
    </form>
  );
}
