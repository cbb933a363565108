/** Inputs for a vendor's options, generated from the JSON schema the provider catalog gives.
 * Only options the user sets are sent; the placeholder shows the vendor's default. */
import { useState } from "react";
import { NumberInput, type NumberInputProps, Select, SimpleGrid, Switch, Text, TextInput, Textarea } from "@mantine/core";
import { label } from "../lib/format";

export type Options = Record<string, unknown>;

interface PropertySchema {
  type?: string | string[];
  anyOf?: PropertySchema[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  description?: string;
  title?: string;
}

interface ObjectSchema {
  properties?: Record<string, PropertySchema>;
}

function resolve(schema: PropertySchema): { type: string; enumValues?: string[] } {
  const variants = schema.anyOf ?? [schema];
  for (const v of variants) {
    if (v.enum) return { type: "enum", enumValues: v.enum.filter((x) => x !== null).map(String) };
    const types = Array.isArray(v.type) ? v.type : [v.type];
    const type = types.find((t) => t && t !== "null");
    if (type) return { type };
  }
  return { type: "object" };
}

function JsonField({ name, value, schema, error, onChange }: { name: string; value: unknown; schema: PropertySchema; error?: string; onChange: (v: unknown) => void }) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value, null, 2));
  const [parseError, setParseError] = useState<string | null>(null);
  return (
    <Textarea
      label={label(name)}
      description={schema.description ?? "JSON"}
      placeholder={schema.default === undefined ? undefined : JSON.stringify(schema.default)}
      autosize
      minRows={2}
      value={text}
      error={parseError ?? error}
      onChange={(e) => setText(e.currentTarget.value)}
      onBlur={() => {
        if (text.trim() === "") {
          setParseError(null);
          onChange(undefined);
          return;
        }
        try {
          onChange(JSON.parse(text));
          setParseError(null);
        } catch {
          setParseError("Not valid JSON");
        }
      }}
    />
  );
}

/** A number that keeps what is being typed ("1.", "-") and reports only whole numbers. */
function NumberOption({ initial, onValue, ...props }: Omit<NumberInputProps, "value" | "onChange"> & { initial: number | undefined; onValue: (v: number | undefined) => void }) {
  const [raw, setRaw] = useState<string | number>(initial ?? "");
  return (
    <NumberInput {...props} value={raw} onChange={(v) => {
      setRaw(v);
      if (typeof v === "number") onValue(v);
      else if (v.trim() === "") onValue(undefined);
    }} />
  );
}

export function OptionsFields({ schema, value, onChange, errors = {}, idPrefix }: {
  schema: ObjectSchema | undefined;
  value: Options;
  onChange: (next: Options) => void;
  errors?: Record<string, string>;
  idPrefix: string;
}) {
  const properties = Object.entries(schema?.properties ?? {});
  if (properties.length === 0) return <Text size="sm" c="dimmed">This vendor has no options.</Text>;
  const set = (key: string, v: unknown) => {
    const next = { ...value };
    if (v === undefined || v === "" || v === null) delete next[key];
    else next[key] = v;
    onChange(next);
  };
  return (
    <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
      {properties.map(([key, prop]) => {
        const { type, enumValues } = resolve(prop);
        const common = {
          id: `${idPrefix}-${key}`,
          label: label(key),
          description: prop.description,
          error: errors[key],
        };
        const placeholder = prop.default === undefined || prop.default === null ? undefined : String(prop.default);
        if (type === "boolean") {
          const current = value[key] ?? prop.default ?? false;
          return (
            <Switch key={key} {...common} mt="md" checked={Boolean(current)} onChange={(e) => set(key, e.currentTarget.checked)} />
          );
        }
        if (type === "enum") {
          return (
            <Select key={key} {...common} data={enumValues ?? []} placeholder={placeholder} clearable
              value={value[key] === undefined ? null : String(value[key])} onChange={(v) => set(key, v ?? undefined)} />
          );
        }
        if (type === "integer" || type === "number") {
          return (
            <NumberOption key={key} {...common} placeholder={placeholder} allowDecimal={type === "number"}
              min={prop.minimum ?? prop.exclusiveMinimum} max={prop.maximum}
              initial={typeof value[key] === "number" ? (value[key] as number) : undefined}
              onValue={(v) => set(key, v)} />
          );
        }
        if (type === "string") {
          return (
            <TextInput key={key} {...common} placeholder={placeholder}
              value={typeof value[key] === "string" ? (value[key] as string) : ""}
              onChange={(e) => set(key, e.currentTarget.value)} />
          );
        }
        return <JsonField key={key} name={key} schema={prop} value={value[key]} error={errors[key]} onChange={(v) => set(key, v)} />;
      })}
    </SimpleGrid>
  );
}
