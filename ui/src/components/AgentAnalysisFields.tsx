/** An agent's post-call analysis: on or off, the success criteria, the JSON schema of the data
 * to extract (edited as text, kept while it does not parse), and another language model. */
import { Fieldset, Select, Stack, Switch, Textarea } from "@mantine/core";
import { useState } from "react";
import type { Schemas } from "../api/client";

export type AnalysisSettings = Schemas["AgentAnalysis"];

const SCHEMA_EXAMPLE = '{"type": "object", "properties": {"day": {"type": "string"}}}';

function schemaText(schema: AnalysisSettings["schema"]): string {
  return schema ? JSON.stringify(schema, null, 2) : "";
}

export function AgentAnalysisFields({ value, onChange, providers, errors }: {
  value: AnalysisSettings;
  onChange: (next: AnalysisSettings) => void;
  providers: Schemas["ProviderOut"][];
  /** Errors keyed by path under `analysis` (`schema`, `llm.credential_id`, ...). */
  errors: Record<string, string>;
}) {
  const [text, setText] = useState(() => schemaText(value.schema));
  const [parseError, setParseError] = useState<string | null>(null);
  const models = providers.filter((p) => p.kind === "llm");
  const llmError = Object.entries(errors).find(([k]) => k.startsWith("llm"))?.[1];

  function editSchema(next: string) {
    setText(next);
    if (!next.trim()) {
      setParseError(null);
      onChange({ ...value, schema: null });
      return;
    }
    try {
      const parsed: unknown = JSON.parse(next);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("a JSON object is needed");
      setParseError(null);
      onChange({ ...value, schema: parsed as Record<string, unknown> });
    } catch (error) {
      setParseError(`Not valid JSON yet: ${(error as Error).message}`);
    }
  }

  return (
    <Fieldset legend="Post-call analysis">
      <Stack gap="sm">
        <Switch label="Analyse each call after it ends (summary, success, extracted data)"
          checked={value.enabled ?? false} onChange={(e) => onChange({ ...value, enabled: e.currentTarget.checked })} />
        <Textarea label="Success criteria" description="What a successful call achieves, in plain words; the analysis says whether each call did"
          autosize minRows={2} value={value.success_criteria ?? ""} error={errors.success_criteria}
          onChange={(e) => onChange({ ...value, success_criteria: e.currentTarget.value })} />
        <Textarea label="Data to extract (JSON schema)" description={`A JSON schema of type object; empty for none. For example ${SCHEMA_EXAMPLE}`}
          autosize minRows={3} maxRows={16} styles={{ input: { fontFamily: "monospace" } }}
          value={text} error={parseError ?? errors.schema} onChange={(e) => editSchema(e.currentTarget.value)} />
        <Select label="Language model for the analysis" description="Another stored LLM provider, or the agent's own"
          placeholder="The agent's own model" clearable
          data={models.map((p) => ({ value: p.id, label: `${p.name} (${p.vendor})` }))}
          value={value.llm?.credential_id ?? null} error={llmError}
          onChange={(id) => onChange({ ...value, llm: id ? { credential_id: id, options: {} } : null })} />
      </Stack>
    </Fieldset>
  );
}
