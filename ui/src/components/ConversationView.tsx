/** The transcript as a conversation: the caller on the left, the agent on the right, and the
 * tools the agent called in between, where they happened. */
import { Badge, Box, Group, Paper, Stack, Text, UnstyledButton } from "@mantine/core";
import { formatOffset } from "../lib/format";
import type { TranscriptEntry } from "../lib/calls";
import type { ToolCallRecord } from "../lib/toolCalls";
import { EmptyState } from "./PageState";
import { ToolCallLine } from "./ToolCallLine";

type Line = { at: number; entry: TranscriptEntry } | { at: number; tool: ToolCallRecord };

/** Utterances and tool calls in the order they happened (a tool after the words at its start). */
function linesOf(entries: TranscriptEntry[], toolCalls: ToolCallRecord[]): Line[] {
  const lines: Line[] = entries.map((entry) => ({ at: entry.at_ms, entry }));
  for (const tool of toolCalls) {
    const before = lines.findIndex((line) => line.at > tool.atMs);
    lines.splice(before === -1 ? lines.length : before, 0, { at: tool.atMs, tool });
  }
  return lines;
}

/** With `onPlayFrom`, each line's time is a button playing the recording from that moment. */
export function ConversationView({ entries, toolCalls = [], onPlayFrom }: {
  entries: TranscriptEntry[];
  toolCalls?: ToolCallRecord[];
  onPlayFrom?: (ms: number) => void;
}) {
  if (entries.length === 0 && toolCalls.length === 0) return <EmptyState title="No transcript">Nobody spoke on this call, or it was not answered.</EmptyState>;
  return (
    <Stack gap="sm" component="ol" aria-label="Transcript" style={{ listStyle: "none", padding: 0, margin: 0 }}>
      {linesOf(entries, toolCalls).map((line, i) => {
        if ("tool" in line) return <ToolCallLine key={i} call={line.tool} />;
        const entry = line.entry;
        const agent = entry.role === "agent";
        return (
          <Box component="li" key={i} style={{ display: "flex", justifyContent: agent ? "flex-end" : "flex-start" }}
            aria-label={`${agent ? "Agent" : "Caller"} at ${formatOffset(entry.at_ms)}`}>
            <Paper
              p="sm"
              radius="lg"
              maw="80%"
              // Theme colours that follow light and dark mode.
              bg={agent ? "var(--mantine-color-indigo-light)" : "var(--mantine-color-default-hover)"}
              style={{ borderTopLeftRadius: agent ? undefined : 4, borderTopRightRadius: agent ? 4 : undefined }}
            >
              <Group gap={6} mb={4} justify={agent ? "flex-end" : "flex-start"}>
                <Text size="xs" fw={700} c={agent ? "var(--mantine-color-indigo-light-color)" : undefined}>{agent ? "Agent" : "Caller"}</Text>
                {onPlayFrom ? (
                  <UnstyledButton onClick={() => onPlayFrom(entry.at_ms)} aria-label={`Play the recording from ${formatOffset(entry.at_ms)}`}
                    title="Play the recording from here" fz="xs" c="blue" td="underline">
                    ▶ {formatOffset(entry.at_ms)}
                  </UnstyledButton>
                ) : <Text size="xs" c="dimmed">{formatOffset(entry.at_ms)}</Text>}
                {entry.dtmf && <Badge size="xs" variant="outline">keypad</Badge>}
                {entry.interrupted && <Badge size="xs" color="orange" variant="light">interrupted</Badge>}
              </Group>
              <Text size="sm" style={{ whiteSpace: "pre-wrap" }} fs={entry.interrupted ? "italic" : undefined}>
                {entry.text}{entry.interrupted ? " —" : ""}
              </Text>
            </Paper>
          </Box>
        );
      })}
    </Stack>
  );
}
