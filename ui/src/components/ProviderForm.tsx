/** A stored provider: vendor from the catalog, write-only API key, model and options. */
import { useState } from "react";
import { Alert, Autocomplete, Button, Group, PasswordInput, SegmentedControl, Select, Stack, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import type { Schemas } from "../api/client";
import { applyProblem, focusFirstError, orNull } from "../lib/forms";
import type { Kind, Vendor } from "../lib/queries";
import { OptionsFields, type Options } from "./OptionsFields";

export type ProviderBody = Schemas["ProviderCreate"];

interface Values {
  name: string;
  kind: Kind;
  vendor: string;
  api_key: string;
  model: string;
  options: Options;
}

export function ProviderForm({ provider, vendors, onSubmit, onCancel }: {
  provider?: Schemas["ProviderOut"];
  vendors: Vendor[];
  /** Create: the whole body. Edit: `api_key` is left out when the field was left empty. */
  onSubmit: (body: ProviderBody) => Promise<unknown>;
  onCancel: () => void;
}) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm<Values>({
    initialValues: {
      name: provider?.name ?? "",
      kind: provider?.kind ?? "llm",
      vendor: provider?.vendor ?? "",
      api_key: "",
      model: provider?.model ?? "",
      options: (provider?.options ?? {}) as Options,
    },
    validate: {
      name: (v) => (v.trim() ? null : "Give the provider a name"),
      vendor: (v) => (v ? null : "Choose a vendor"),
      api_key: (v, values) => {
        const needsKey = vendors.find((x) => x.vendor === values.vendor && x.kind === values.kind)?.needs_api_key;
        return needsKey && !provider && !v.trim() ? "This vendor needs an API key" : null;
      },
    },
  });
  const kindVendors = vendors.filter((v) => v.kind === form.values.kind);
  const vendor = kindVendors.find((v) => v.vendor === form.values.vendor);
  const optionErrors = Object.fromEntries(
    Object.entries(form.errors).filter(([k]) => k.startsWith("options.")).map(([k, v]) => [k.slice(8), String(v)]),
  );

  const submit = form.onSubmit(async (values) => {
    setFormError(null);
    const body: ProviderBody = {
      name: values.name.trim(),
      kind: values.kind,
      vendor: values.vendor,
      model: orNull(values.model),
      options: values.options,
    };
    const key = orNull(values.api_key);
    if (key !== null) body.api_key = key;
    try {
      await onSubmit(body);
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  }, focusFirstError);

  return (
    <form onSubmit={submit} noValidate aria-label="Provider">
      <Stack>
        {formError && <Alert color="red" role="alert" title="Not saved">{formError}</Alert>}
        <TextInput label="Name" required {...form.getInputProps("name")} />
        <div>
          <Text size="sm" fw={500} id="provider-kind-label">Kind</Text>
          <SegmentedControl
            aria-labelledby="provider-kind-label"
            disabled={provider !== undefined}
            data={[{ value: "stt", label: "Speech to text" }, { value: "llm", label: "Language model" }, { value: "tts", label: "Text to speech" }]}
            value={form.values.kind}
            onChange={(k) => form.setValues({ kind: k as Kind, vendor: "", model: "", options: {} })}
            fullWidth
          />
        </div>
        <Select
          label="Vendor"
          required
          searchable
          data={kindVendors.map((v) => ({ value: v.vendor, label: v.display_name }))}
          {...form.getInputProps("vendor")}
          onChange={(v) => form.setValues({ vendor: v ?? "", model: "", options: {} })}
        />
        {vendor?.description && <Text size="xs" c="dimmed" mt={-8}>{vendor.description}</Text>}
        <PasswordInput
          label="API key"
          description={provider?.api_key ? `Stored: ${provider.api_key}. Leave empty to keep it.` : vendor && !vendor.needs_api_key ? "Optional for this vendor" : undefined}
          autoComplete="off"
          {...form.getInputProps("api_key")}
        />
        <Autocomplete label="Model" placeholder={vendor?.default_model ?? "Vendor default"} data={vendor?.models ?? []} {...form.getInputProps("model")} />
        {vendor && (
          <>
            <Text size="sm" fw={600}>Options</Text>
            <OptionsFields idPrefix="provider-opt" schema={vendor.options_schema} value={form.values.options} errors={optionErrors}
              onChange={(next) => form.setFieldValue("options", next)} />
          </>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={form.submitting}>{provider ? "Save provider" : "Create provider"}</Button>
        </Group>
      </Stack>
    </form>
  );
}
