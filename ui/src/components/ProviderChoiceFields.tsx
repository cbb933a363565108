/** An agent's STT, LLM or TTS: a stored provider (credential) or a key-less vendor, then the
 * model, voice and options the provider catalog offers for that vendor. */
import { Autocomplete, Fieldset, Select, SimpleGrid, Button } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import type { Schemas } from "../api/client";
import { OptionsFields, type Options } from "./OptionsFields";
import type { Kind, Vendor } from "../lib/queries";

export type Choice = Schemas["ProviderChoice"];

const TITLES: Record<Kind, string> = { stt: "Speech to text", llm: "Language model", tts: "Text to speech" };

export function ProviderChoiceFields({ kind, value, onChange, vendors, providers, errors }: {
  kind: Kind;
  value: Choice;
  onChange: (next: Choice) => void;
  vendors: Vendor[];
  providers: Schemas["ProviderOut"][];
  /** Errors keyed by path under this choice (`vendor`, `credential_id`, `options.x`, or `` for the whole). */
  errors: Record<string, string>;
}) {
  const [advanced, { toggle }] = useDisclosure(false);
  const credentials = providers.filter((p) => p.kind === kind);
  const credential = credentials.find((p) => p.id === value.credential_id);
  // The stored provider it names is gone (deleted before deletes of used providers were
  // refused): shown as none, with what happened, so any choice below repairs it.
  const gone = Boolean(value.credential_id) && credential === undefined;
  const vendorName = credential?.vendor ?? value.vendor ?? null;
  const vendor = vendors.find((v) => v.vendor === vendorName);
  const keyless = vendors.filter((v) => !v.needs_api_key);
  const options = (value.options ?? {}) as Options;
  const optionErrors = Object.fromEntries(
    Object.entries(errors).filter(([k]) => k.startsWith("options.")).map(([k, v]) => [k.slice("options.".length), v]),
  );
  const id = `agent-${kind}`;

  return (
    <Fieldset legend={`${TITLES[kind]} (${kind.toUpperCase()})`}>
      <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
        <Select
          id={`${id}-credential`}
          label="Provider"
          description="A stored provider with its API key, or none for a key-less vendor"
          placeholder="None (key-less vendor)"
          clearable
          data={credentials.map((p) => ({ value: p.id, label: `${p.name} (${p.vendor})` }))}
          value={gone ? null : value.credential_id ?? null}
          error={errors.credential_id ?? (gone ? "The provider this agent used was deleted: choose another, or a key-less vendor" : undefined)}
          onChange={(credentialId) => onChange({ ...value, credential_id: credentialId, vendor: credentialId ? null : value.vendor, options: {} })}
        />
        <Select
          id={`${id}-vendor`}
          label="Vendor"
          placeholder="Choose a vendor"
          disabled={credential !== undefined}
          data={(credential ? vendors : keyless).map((v) => ({ value: v.vendor, label: v.display_name }))}
          value={vendorName}
          error={errors.vendor ?? errors[""]}
          onChange={(v) => onChange({ ...value, credential_id: gone ? null : value.credential_id, vendor: v, model: null, voice: null, options: {} })}
        />
        <Autocomplete
          id={`${id}-model`}
          label="Model"
          placeholder={credential?.model ?? vendor?.default_model ?? "Vendor default"}
          data={vendor?.models ?? []}
          value={value.model ?? ""}
          error={errors.model}
          onChange={(m) => onChange({ ...value, model: m.trim() === "" ? null : m })}
        />
        {(kind === "tts" || (vendor?.voices?.length ?? 0) > 0) && (
          <Autocomplete
            id={`${id}-voice`}
            label="Voice"
            placeholder={vendor?.default_voice ?? "Vendor default"}
            data={vendor?.voices ?? []}
            value={value.voice ?? ""}
            error={errors.voice}
            onChange={(v) => onChange({ ...value, voice: v.trim() === "" ? null : v })}
          />
        )}
      </SimpleGrid>
      {vendor && (
        <>
          <Button variant="subtle" size="xs" mt="sm" onClick={toggle} aria-expanded={advanced} aria-controls={`${id}-options`}>
            {advanced ? "Hide" : "Show"} {vendor.display_name} options
          </Button>
          {(advanced || Object.keys(optionErrors).length > 0) && (
            <div id={`${id}-options`}>
            <OptionsFields
              idPrefix={`${id}-opt`}
              schema={vendor.options_schema}
              value={options}
              errors={optionErrors}
              onChange={(next) => onChange({ ...value, options: next })}
            />
            </div>
          )}
        </>
      )}
    </Fieldset>
  );
}
