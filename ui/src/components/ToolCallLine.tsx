/** One tool the agent called, as a line of the conversation: its name, what it was asked,
 * what it answered (or how it failed) and how long the caller waited for it. */
import { Badge, Box, Code, Group, Paper, Stack, Text } from "@mantine/core";
import { IconTool } from "@tabler/icons-react";
import { formatMs, formatOffset } from "../lib/format";
import { readableJson, type ToolCallRecord } from "../lib/toolCalls";

// Long answers stay scrollable inside the line instead of pushing the conversation away.
const DETAIL_MAX_HEIGHT = 160;

function Detail({ name, text }: { name: string; text: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed" fw={600}>{name}</Text>
      <Code block style={{ maxHeight: DETAIL_MAX_HEIGHT, overflow: "auto", whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>{text || "—"}</Code>
    </div>
  );
}

export function ToolCallLine({ call }: { call: ToolCallRecord }) {
  return (
    <Box component="li" aria-label={`Tool ${call.name} at ${formatOffset(call.atMs)}`} style={{ display: "flex", justifyContent: "center" }}>
      <Paper withBorder p="xs" radius="md" w="min(100%, 520px)" style={{ borderStyle: "dashed" }}>
        <Group gap={6} mb={6} wrap="wrap">
          <IconTool size={14} aria-hidden />
          <Text size="xs" fw={700} ff="monospace" style={{ overflowWrap: "anywhere" }}>{call.name}</Text>
          <Text size="xs" c="dimmed">{formatOffset(call.atMs)}</Text>
          <Badge size="xs" variant="light" color={call.ok ? "green" : "red"}>{call.ok ? "answered" : "failed"}</Badge>
          <Text size="xs" c="dimmed">{formatMs(call.latencyMs)}</Text>
        </Group>
        <Stack gap={6}>
          <Detail name="Arguments" text={readableJson(call.arguments)} />
          <Detail name={call.ok ? "Result" : "Failure"} text={readableJson(call.result)} />
        </Stack>
      </Paper>
    </Box>
  );
}
