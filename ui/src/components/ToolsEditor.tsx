/** The agent's HTTP tools: what the model may call during a call, and what it says meanwhile.
 * Header values are secrets: a stored one is never shown (only its last characters), and
 * left empty it stays as it is. */
import {
  ActionIcon, Button, Fieldset, Group, NumberInput, Paper, PasswordInput, Select, SimpleGrid, Stack, Text, TextInput, Textarea, Title,
} from "@mantine/core";
import type { UseFormReturnType } from "@mantine/form";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import type { Schemas } from "../api/client";

export type AgentBody = Schemas["AgentCreate"];

export interface HeaderDraft {
  name: string;
  /** Typed by the admin; empty keeps a stored value. */
  value: string;
  /** Last characters of the stored value; null when none is stored (or it is too short to show). */
  hint: string | null;
  stored: boolean;
}

/** A tool as edited: the parameters' JSON schema as text, so a typing mistake can be shown. */
export interface ToolDraft {
  name: string;
  description: string;
  method: "GET" | "POST";
  url: string;
  parameters: string;
  timeout_s: number;
  filler: string;
  filler_after_s: number;
  headers: HeaderDraft[];
}

export type AgentFormValues = Omit<Required<AgentBody>, "tools"> & { tools: ToolDraft[] };

// The API's limits (api/agent_tools.py), so the inputs refuse what it would.
const MAX_TOOLS = 16;
const MAX_HEADERS = 16;
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const EMPTY_SCHEMA = '{\n  "type": "object",\n  "properties": {}\n}';

const NEW_TOOL: ToolDraft = {
  name: "", description: "", method: "POST", url: "", parameters: EMPTY_SCHEMA,
  timeout_s: 10, filler: "One moment while I check that.", filler_after_s: 1, headers: [],
};

export function toolDrafts(tools: Schemas["AgentToolOut"][]): ToolDraft[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    method: t.method,
    url: t.url,
    parameters: JSON.stringify(t.parameters ?? {}, null, 2),
    timeout_s: t.timeout_s,
    filler: t.filler,
    filler_after_s: t.filler_after_s,
    headers: (t.headers ?? []).map((h) => ({ name: h.name, value: "", hint: h.hint, stored: true })),
  }));
}

/** Drafts as the API takes them (call after `toolErrors` found nothing). A stored header
 * left empty goes without a value: the server keeps the one it has. */
export function toolBodies(drafts: ToolDraft[]): Schemas["AgentTool"][] {
  return drafts.map((d) => ({
    name: d.name.trim(),
    description: d.description,
    method: d.method,
    url: d.url.trim(),
    parameters: JSON.parse(d.parameters) as Record<string, unknown>,
    timeout_s: d.timeout_s,
    filler: d.filler,
    filler_after_s: d.filler_after_s,
    headers: d.headers.map((h) => ({ name: h.name.trim(), value: h.value === "" ? null : h.value })),
  }));
}

/** Why the parameters text is not a usable JSON schema, or null. */
export function parametersError(text: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `Not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || (parsed as { type?: unknown }).type !== "object") {
    return 'Must be a JSON schema of type object, e.g. {"type": "object", "properties": {"day": {"type": "string"}}}';
  }
  return null;
}

/** Each draft's problems by form path (`tools.0.url`), as the form shows them. */
export function toolErrors(drafts: ToolDraft[]): Record<string, string> {
  const errors: Record<string, string> = {};
  const names = new Set<string>();
  drafts.forEach((d, i) => {
    const at = `tools.${i}`;
    const name = d.name.trim();
    if (!TOOL_NAME.test(name)) errors[`${at}.name`] = "Letters, digits, _ and - only, up to 64 (the model calls it by this name)";
    else if (names.has(name)) errors[`${at}.name`] = "Another tool has this name";
    names.add(name);
    if (!d.description.trim()) errors[`${at}.description`] = "Say what the tool does: the model decides from this when to call it";
    if (!/^https?:\/\/\S+$/i.test(d.url.trim())) errors[`${at}.url`] = "An http:// or https:// address";
    const parameters = parametersError(d.parameters);
    if (parameters) errors[`${at}.parameters`] = parameters;
    const headers = new Set<string>();
    d.headers.forEach((h, j) => {
      const header = h.name.trim();
      if (!HEADER_NAME.test(header)) errors[`${at}.headers.${j}.name`] = "A header name: letters, digits and - only";
      else if (headers.has(header.toLowerCase())) errors[`${at}.headers.${j}.name`] = "This header is already listed";
      headers.add(header.toLowerCase());
      if (!h.stored && h.value === "") errors[`${at}.headers.${j}.value`] = "Enter the value";
    });
  });
  return errors;
}

function HeaderRow({ form, tool, index }: { form: UseFormReturnType<AgentFormValues>; tool: number; index: number }) {
  const path = `tools.${tool}.headers.${index}`;
  const header = form.values.tools[tool]!.headers[index]!;
  const hint = header.stored ? (header.hint ? `Stored, ends in ${header.hint}; type to replace` : "Stored; type to replace") : undefined;
  return (
    // Name and value side by side where they fit, one above the other on a phone.
    <Group align="flex-start" gap="xs" wrap="wrap">
      <TextInput aria-label={`Header ${index + 1} name`} placeholder="Authorization" style={{ flex: "1 1 140px", minWidth: 0 }} {...form.getInputProps(`${path}.name`)} />
      <Group align="flex-start" gap="xs" wrap="nowrap" style={{ flex: "2 1 220px", minWidth: 0 }}>
        <PasswordInput aria-label={`Header ${index + 1} value`} placeholder={header.stored ? "•••• unchanged" : "Bearer …"} description={hint}
          inputWrapperOrder={["label", "input", "description", "error"]}
          autoComplete="new-password" style={{ flex: 1, minWidth: 0 }} {...form.getInputProps(`${path}.value`)} />
        <ActionIcon variant="subtle" color="red" mt={6} aria-label={`Remove header ${header.name || index + 1}`}
          onClick={() => form.removeListItem(`tools.${tool}.headers`, index)}>
          <IconTrash size={16} />
        </ActionIcon>
      </Group>
    </Group>
  );
}

function ToolFields({ form, index }: { form: UseFormReturnType<AgentFormValues>; index: number }) {
  const path = `tools.${index}`;
  const tool = form.values.tools[index]!;
  const label = tool.name.trim() || `Tool ${index + 1}`;
  return (
    <Paper withBorder p="sm" radius="md" component="section" aria-label={`Tool ${label}`}>
      <Group justify="space-between" mb="xs" wrap="nowrap">
        <Title order={3} size="h6" style={{ overflowWrap: "anywhere" }}>{label}</Title>
        <Button variant="subtle" color="red" size="xs" leftSection={<IconTrash size={14} />}
          aria-label={`Remove tool ${label}`} onClick={() => form.removeListItem("tools", index)}>Remove</Button>
      </Group>
      <Stack gap="sm">
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
          <TextInput label="Name" description="How the model calls it, e.g. check_availability" required {...form.getInputProps(`${path}.name`)} />
          <Select label="Method" allowDeselect={false} description="POST sends the arguments as JSON; GET as query parameters"
            data={["POST", "GET"]} {...form.getInputProps(`${path}.method`)} />
        </SimpleGrid>
        <TextInput label="URL" required placeholder="https://booking.example.com/availability" {...form.getInputProps(`${path}.url`)} />
        <Textarea label="Description" required autosize minRows={2} description="When and why the model should call it" {...form.getInputProps(`${path}.description`)} />
        <Textarea label="Parameters (JSON schema)" autosize minRows={4} maxRows={16} spellCheck={false}
          description="The arguments the model passes, as a JSON schema of type object"
          styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)", fontSize: "var(--mantine-font-size-xs)" } }}
          {...form.getInputProps(`${path}.parameters`)} />
        <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="sm">
          <NumberInput label="Timeout (s)" min={0.1} max={30} step={0.5} decimalScale={1} {...form.getInputProps(`${path}.timeout_s`)} />
          <TextInput label="Filler phrase" description="Said while the caller waits; empty for silence" {...form.getInputProps(`${path}.filler`)} />
          <NumberInput label="Say it after (s)" min={0} max={10} step={0.5} decimalScale={1} description="If the tool has not answered by then" {...form.getInputProps(`${path}.filler_after_s`)} />
        </SimpleGrid>
        <Stack gap={6}>
          <Text size="sm" fw={500}>Headers</Text>
          <Text size="xs" c="dimmed" mt={-4}>Sent with every request; values are stored encrypted and never shown again.</Text>
          {tool.headers.map((_, j) => <HeaderRow key={j} form={form} tool={index} index={j} />)}
          {tool.headers.length < MAX_HEADERS && (
            <Group>
              <Button variant="subtle" size="xs" leftSection={<IconPlus size={14} />} aria-label={`Add a header to ${label}`}
                onClick={() => form.insertListItem(`${path}.headers`, { name: "", value: "", hint: null, stored: false } satisfies HeaderDraft)}>
                Add header
              </Button>
            </Group>
          )}
        </Stack>
      </Stack>
    </Paper>
  );
}

export function ToolsEditor({ form }: { form: UseFormReturnType<AgentFormValues> }) {
  const tools = form.values.tools;
  return (
    <Fieldset legend="Tools">
      <Stack gap="sm">
        <Text size="xs" c="dimmed">HTTP endpoints the agent may call during a call, e.g. to check a calendar or book a slot. A tool that fails or is slow is an answer the agent can use; the call goes on.</Text>
        {tools.map((_, i) => <ToolFields key={i} form={form} index={i} />)}
        {tools.length < MAX_TOOLS && (
          <Group>
            <Button variant="light" leftSection={<IconPlus size={16} />} onClick={() => form.insertListItem("tools", { ...NEW_TOOL })}>Add tool</Button>
          </Group>
        )}
      </Stack>
    </Fieldset>
  );
}
