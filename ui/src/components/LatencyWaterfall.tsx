/** Per-turn latency: where the time between the caller's last word and the agent's first
 * sound went (STT final, LLM first token, TTS first audio, first frame out). The greeting has
 * no caller turn before it: it is measured from the call's audio connecting (just after the
 * answer) to its first sound, the dead air a caller hears after picking up; the stages that
 * did not happen for it say "n/a", not "—". */
import { Box, Group, Stack, Table, Text, Tooltip } from "@mantine/core";
import { formatMs } from "../lib/format";
import type { TurnMetrics } from "../lib/calls";
import { EmptyState } from "./PageState";

export interface Segment {
  stage: string;
  from: number;
  to: number;
  color: string;
}

const STAGES = [
  { stage: "STT final", short: "STT", start: "end_of_speech_ms", end: "stt_final_ms", color: "var(--mantine-color-teal-5)" },
  { stage: "LLM first token", short: "LLM", start: "stt_final_ms", end: "llm_first_token_ms", color: "var(--mantine-color-indigo-5)" },
  { stage: "First sentence", short: "Sentence", start: "llm_first_token_ms", end: "first_sentence_ms", color: "var(--mantine-color-violet-4)" },
  { stage: "TTS first audio", short: "TTS", start: "first_sentence_ms", end: "tts_first_audio_ms", color: "var(--mantine-color-orange-5)" },
  { stage: "First frame out", short: "Out", start: "tts_first_audio_ms", end: "first_frame_out_ms", color: "var(--mantine-color-pink-5)" },
] as const satisfies readonly { stage: string; short: string; start: keyof TurnMetrics; end: keyof TurnMetrics; color: string }[];

type Mark = Exclude<keyof TurnMetrics, "index" | "interrupted" | "failed">;

/** The agent's first utterance (turn 0, spoken before any caller turn). Its marks count from
 * the moment the call's audio connected. */
export function isGreeting(turn: TurnMetrics): boolean {
  return turn.index === 0 && turn.end_of_speech_ms == null && turn.stt_final_ms == null;
}

/** Where a turn's latency counts from: the caller's end of speech, or for the greeting the
 * call's audio connecting. */
function originOf(turn: TurnMetrics): number | null {
  return turn.end_of_speech_ms ?? (isGreeting(turn) ? 0 : null);
}

// Stages the greeting never goes through: nothing to recognise, no model to ask.
const NOT_FOR_GREETING = new Set(["STT final", "LLM first token", "First sentence"]);

export function turnLabel(turn: TurnMetrics): string {
  return isGreeting(turn) ? "Greeting" : `Turn ${turn.index}`;
}

/** The stages of one turn, relative to its origin. A stage whose start is missing
 * (e.g. no first sentence reported) starts where the previous known mark ended. */
export function segmentsOf(turn: TurnMetrics): Segment[] {
  const origin = originOf(turn);
  if (origin === null) return [];
  const segments: Segment[] = [];
  let cursor = origin;
  for (const { stage, start, end, color } of STAGES) {
    const to = turn[end as Mark];
    if (to === null || to === undefined) continue;
    const from = Math.max(cursor, (turn[start as Mark] ?? cursor) as number);
    if (to < from) continue;
    segments.push({ stage, from: from - origin, to: to - origin, color });
    cursor = to;
  }
  return segments;
}

/** Caller's end of speech (the greeting: audio connected) to the agent's first frame out, or
 * null when the turn had no reply. */
export function turnTotal(turn: TurnMetrics): number | null {
  const origin = originOf(turn);
  if (origin === null || turn.first_frame_out_ms == null) return null;
  return turn.first_frame_out_ms - origin;
}

export function LatencyWaterfall({ turns }: { turns: TurnMetrics[] }) {
  const rows = turns.map((t) => ({ turn: t, segments: segmentsOf(t), total: turnTotal(t) }));
  const measured = rows.filter((r) => r.segments.length > 0);
  if (measured.length === 0) return <EmptyState title="No latency measured">No turn of this call reached a reply.</EmptyState>;
  const scale = Math.max(...measured.map((r) => r.segments[r.segments.length - 1]!.to), 1);

  return (
    <Stack gap="md">
      <Group gap="md" aria-hidden>
        {STAGES.map((s) => (
          <Group key={s.stage} gap={6}><Box w={12} h={12} style={{ background: s.color, borderRadius: 3 }} /><Text size="xs">{s.stage}</Text></Group>
        ))}
      </Group>
      <Stack gap={6} aria-hidden>
        {measured.map(({ turn, segments, total }) => (
          <Group key={turn.index} gap="sm" wrap="nowrap" data-testid={`waterfall-turn-${turn.index}`}>
            <Text size="xs" w={64} c="dimmed">{turnLabel(turn)}</Text>
            <Box pos="relative" h={18} style={{ flex: 1, background: "var(--mantine-color-default-hover)", borderRadius: 4 }}>
              {segments.map((s) => (
                <Tooltip key={s.stage} label={`${s.stage}: ${formatMs(s.to - s.from)}`}>
                  <Box
                    data-stage={s.stage}
                    pos="absolute"
                    top={0}
                    h="100%"
                    style={{
                      left: `${(s.from / scale) * 100}%`,
                      width: `max(2px, ${((s.to - s.from) / scale) * 100}%)`,
                      background: s.color,
                      borderRadius: 3,
                    }}
                  />
                </Tooltip>
              ))}
            </Box>
            <Text size="xs" w={64} ta="right" fw={600} c={turn.interrupted ? "orange" : undefined}>{formatMs(total)}</Text>
          </Group>
        ))}
      </Stack>
      <Table.ScrollContainer minWidth={420}>
        <Table withTableBorder fz="xs" aria-label="Latency per turn">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Turn</Table.Th>
              {STAGES.map((s) => <Table.Th key={s.stage}><abbr title={s.stage} style={{ textDecoration: "none" }}>{s.short}</abbr></Table.Th>)}
              <Table.Th>Total</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map(({ turn, segments, total }) => (
              <Table.Tr key={turn.index}>
                <Table.Td>{turnLabel(turn)}{turn.interrupted ? " (interrupted)" : ""}{turn.failed ? " (failed)" : ""}</Table.Td>
                {STAGES.map((s) => {
                  const seg = segments.find((x) => x.stage === s.stage);
                  if (seg) return <Table.Td key={s.stage}>{formatMs(seg.to - seg.from)}</Table.Td>;
                  if (isGreeting(turn) && NOT_FOR_GREETING.has(s.stage)) {
                    return <Table.Td key={s.stage} c="dimmed"><abbr title="The greeting is fixed text: no speech to recognise, no model to ask" style={{ textDecoration: "none" }}>n/a</abbr></Table.Td>;
                  }
                  return <Table.Td key={s.stage}>—</Table.Td>;
                })}
                <Table.Td fw={600}>{formatMs(total)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}
