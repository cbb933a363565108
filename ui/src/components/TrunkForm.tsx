/** A SIP trunk as provisioning needs it. The API validates as strictly as provisioning does;
 * each refusal is shown under the field it names. */
import { useState } from "react";
import {
  ActionIcon, Alert, Button, Fieldset, Group, MultiSelect, NumberInput, PasswordInput, SegmentedControl, Select,
  SimpleGrid, Stack, Text, TextInput,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import type { Schemas } from "../api/client";
import { applyProblem, focusFirstError, orNull } from "../lib/forms";

export type TrunkBody = Schemas["TrunkCreate"];
type Codec = NonNullable<TrunkBody["codecs"]>[number];
// The API's rule for trunk names (api/routes/sip_trunks.py TRUNK_NAME).
const TRUNK_NAME = /^[A-Za-z0-9_-]+$/;

interface Values {
  name: string;
  kind: "registration" | "ip";
  host: string;
  port: number | string;
  transport: "udp" | "tcp" | "tls";
  username: string;
  password: string;
  from_user: string;
  from_domain: string;
  codecs: Codec[];
  dtmf_mode: NonNullable<TrunkBody["dtmf_mode"]>;
  max_cps: number | string;
  max_calls: number | string;
  inbound_routes: { did: string; agent_id: string }[];
}

const CODECS: { value: Codec; label: string }[] = [
  { value: "alaw", label: "G.711 A-law (alaw)" },
  { value: "ulaw", label: "G.711 µ-law (ulaw)" },
  { value: "g722", label: "G.722" },
  { value: "opus", label: "Opus" },
];

export function TrunkForm({ trunk, agents, onSubmit, onCancel }: {
  trunk?: Schemas["TrunkOut"];
  agents: { id: string; name: string }[];
  onSubmit: (body: TrunkBody) => Promise<unknown>;
  onCancel: () => void;
}) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm<Values>({
    initialValues: {
      name: trunk?.name ?? "",
      kind: trunk?.kind ?? "registration",
      host: trunk?.host ?? "",
      port: trunk?.port ?? 5060,
      transport: trunk?.transport ?? "udp",
      username: trunk?.username ?? "",
      password: "",
      from_user: trunk?.from_user ?? "",
      from_domain: trunk?.from_domain ?? "",
      codecs: trunk?.codecs ?? ["alaw", "ulaw"],
      dtmf_mode: trunk?.dtmf_mode ?? "rfc4733",
      max_cps: trunk?.max_cps ?? 1,
      max_calls: trunk?.max_calls ?? 10,
      inbound_routes: trunk?.inbound_routes ?? [],
    },
    validate: {
      name: (v) => {
        if (!v.trim()) return "Give the trunk a name";
        // A name stored before the API's rule (TRUNK_NAME) stays until it is changed.
        if (v.trim() !== trunk?.name && !TRUNK_NAME.test(v.trim())) return "Use only letters, digits, - and _ (no spaces)";
        return null;
      },
      host: (v) => (v.trim() ? null : "Enter the provider's host name or IP address"),
      codecs: (v) => (v.length ? null : "Choose at least one codec"),
    },
  });

  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    const body: TrunkBody = {
      name: v.name.trim(),
      kind: v.kind,
      host: v.host.trim(),
      port: Number(v.port),
      transport: v.transport,
      username: orNull(v.username),
      from_user: orNull(v.from_user),
      from_domain: orNull(v.from_domain),
      codecs: v.codecs,
      dtmf_mode: v.dtmf_mode,
      max_cps: Number(v.max_cps),
      max_calls: Number(v.max_calls),
      inbound_routes: v.inbound_routes,
    };
    // The password is write-only: sent only when typed (on edit, empty keeps the stored one).
    const password = orNull(v.password);
    if (password !== null || !trunk) body.password = password;
    try {
      await onSubmit(body);
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  }, focusFirstError);

  const registration = form.values.kind === "registration";
  return (
    <form onSubmit={submit} noValidate aria-label="SIP trunk">
      <Stack>
        {formError && <Alert color="red" role="alert" title="Not saved">{formError}</Alert>}
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
          <TextInput label="Name" required description="Letters, digits, - and _" {...form.getInputProps("name")} />
          <div>
            <Text size="sm" fw={500} id="trunk-kind-label">Authentication</Text>
            <SegmentedControl aria-labelledby="trunk-kind-label" fullWidth
              data={[{ value: "registration", label: "Registration" }, { value: "ip", label: "IP-based" }]}
              {...form.getInputProps("kind")} />
            {form.errors.kind && <Text size="xs" c="red">{form.errors.kind}</Text>}
          </div>
        </SimpleGrid>
        <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="sm">
          <TextInput label="Host" required placeholder="sip.example.com" {...form.getInputProps("host")} />
          <NumberInput label="Port" min={1} max={65535} {...form.getInputProps("port")} />
          <Select label="Transport" allowDeselect={false} data={[{ value: "udp", label: "UDP" }, { value: "tcp", label: "TCP" }, { value: "tls", label: "TLS" }]} {...form.getInputProps("transport")} />
        </SimpleGrid>
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
          <TextInput label="Username" required={registration} autoComplete="off" {...form.getInputProps("username")} />
          <PasswordInput label="Password" required={registration && !trunk?.has_password} autoComplete="new-password"
            description={trunk?.has_password ? "Stored. Leave empty to keep it." : undefined} {...form.getInputProps("password")} />
          <TextInput label="From user" {...form.getInputProps("from_user")} />
          <TextInput label="From domain" {...form.getInputProps("from_domain")} />
        </SimpleGrid>
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
          <MultiSelect label="Codecs, in order of preference" data={CODECS} {...form.getInputProps("codecs")} />
          <Select label="DTMF mode" allowDeselect={false}
            data={[{ value: "rfc4733", label: "RFC 4733" }, { value: "inband", label: "In-band" }, { value: "info", label: "SIP INFO" }, { value: "auto", label: "Auto" }]}
            {...form.getInputProps("dtmf_mode")} />
          <NumberInput label="Max calls per second" min={0.1} step={0.5} decimalScale={2} {...form.getInputProps("max_cps")} />
          <NumberInput label="Max concurrent calls" min={1} {...form.getInputProps("max_calls")} />
        </SimpleGrid>
        <Fieldset legend="Inbound numbers">
          <Stack gap="xs">
            {form.values.inbound_routes.length === 0 && <Text size="sm" c="dimmed">No inbound numbers: calls on this trunk are not answered.</Text>}
            {form.values.inbound_routes.map((_, i) => (
              <Group key={i} align="flex-start" wrap="nowrap">
                <TextInput label="DID" placeholder="+4930123456" style={{ flex: 1 }} {...form.getInputProps(`inbound_routes.${i}.did`)} />
                <Select label="Agent" style={{ flex: 1 }} data={agents.map((a) => ({ value: a.id, label: a.name }))} {...form.getInputProps(`inbound_routes.${i}.agent_id`)} />
                <ActionIcon mt={26} variant="subtle" color="red" aria-label={`Remove number ${i + 1}`} onClick={() => form.removeListItem("inbound_routes", i)}>
                  <IconTrash size={18} />
                </ActionIcon>
              </Group>
            ))}
            <Button variant="light" size="xs" leftSection={<IconPlus size={14} />} w="fit-content"
              onClick={() => form.insertListItem("inbound_routes", { did: "", agent_id: agents[0]?.id ?? "" })}>
              Add number
            </Button>
          </Stack>
        </Fieldset>
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={form.submitting}>{trunk ? "Save trunk" : "Create trunk"}</Button>
        </Group>
      </Stack>
    </form>
  );
}
