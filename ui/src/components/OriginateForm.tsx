/** Place an outbound call now or at a set time: agent, number, trunk and call variables. */
import { useState } from "react";
import { ActionIcon, Alert, Button, Group, Select, SimpleGrid, Stack, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import type { Schemas } from "../api/client";
import { applyProblem, focusFirstError, orNull } from "../lib/forms";

export type OriginateBody = Schemas["OriginateRequest"];

const NUMBER = /^\+?[0-9]{2,20}$/;

interface Values {
  agent_id: string;
  to: string;
  from: string;
  trunk_id: string | null;
  schedule_at: string;
  variables: { name: string; value: string }[];
}

export function OriginateForm({ agents, trunks, onSubmit, onCancel }: {
  agents: { id: string; name: string }[];
  trunks: { id: string; name: string }[];
  onSubmit: (body: OriginateBody) => Promise<unknown>;
  onCancel: () => void;
}) {
  const [formError, setFormError] = useState<string | null>(null);
  const form = useForm<Values>({
    initialValues: { agent_id: agents[0]?.id ?? "", to: "", from: "", trunk_id: null, schedule_at: "", variables: [] },
    validate: {
      agent_id: (v) => (v ? null : "Choose the agent who speaks"),
      to: (v) => (NUMBER.test(v.trim()) ? null : "Digits only, optionally with a leading +"),
      from: (v) => (!v.trim() || NUMBER.test(v.trim()) ? null : "Digits only, optionally with a leading +"),
    },
  });
  const submit = form.onSubmit(async (v) => {
    setFormError(null);
    const body: OriginateBody = {
      agent_id: v.agent_id,
      to: v.to.trim(),
      from: orNull(v.from),
      trunk_id: v.trunk_id,
      variables: Object.fromEntries(v.variables.filter((x) => x.name.trim()).map((x) => [x.name.trim(), x.value])),
      // A local date-time input; the API wants an absolute time.
      schedule_at: v.schedule_at ? new Date(v.schedule_at).toISOString() : null,
      // Calling a number on the do-not-call list is an API client's explicit, audited choice.
      override_do_not_call: false,
    };
    try {
      await onSubmit(body);
    } catch (error) {
      setFormError(applyProblem(form, error));
    }
  }, focusFirstError);
  return (
    <form onSubmit={submit} noValidate aria-label="New call">
      <Stack>
        {formError && <Alert color="red" role="alert" title="Not placed">{formError}</Alert>}
        <Select label="Agent" required allowDeselect={false} searchable data={agents.map((a) => ({ value: a.id, label: a.name }))} {...form.getInputProps("agent_id")} />
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput label="To" required placeholder="+4930123456" {...form.getInputProps("to")} />
          <TextInput label="From" placeholder="The trunk's default" {...form.getInputProps("from")} />
          <Select label="Trunk" clearable placeholder="Default route" data={trunks.map((t) => ({ value: t.id, label: t.name }))} {...form.getInputProps("trunk_id")} />
          <TextInput type="datetime-local" label="Call at" description="Empty: now" {...form.getInputProps("schedule_at")} />
        </SimpleGrid>
        <div>
          <Text size="sm" fw={500}>Variables</Text>
          <Text size="xs" c="dimmed" mb={4}>Available to the agent's prompt during the call</Text>
          <Stack gap="xs">
            {form.values.variables.map((_, i) => (
              <Group key={i} wrap="nowrap" align="flex-start">
                <TextInput aria-label={`Variable ${i + 1} name`} placeholder="name" style={{ flex: 1 }} {...form.getInputProps(`variables.${i}.name`)} />
                <TextInput aria-label={`Variable ${i + 1} value`} placeholder="value" style={{ flex: 2 }} {...form.getInputProps(`variables.${i}.value`)} />
                <ActionIcon variant="subtle" color="red" mt={4} aria-label={`Remove variable ${i + 1}`} onClick={() => form.removeListItem("variables", i)}><IconTrash size={16} /></ActionIcon>
              </Group>
            ))}
            <Button variant="light" size="xs" w="fit-content" leftSection={<IconPlus size={14} />} onClick={() => form.insertListItem("variables", { name: "", value: "" })}>Add variable</Button>
          </Stack>
        </div>
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>Cancel</Button>
          <Button type="submit" loading={form.submitting}>Place call</Button>
        </Group>
      </Stack>
    </form>
  );
}
