/** "Talk to this agent": a call from the browser with the agent as saved, or with the form's
 * unsaved changes as a draft; the live transcript and each turn's latencies as they happen,
 * Hang up, and a link to the finished call's page. The audio runs in the server's
 * /web-call.js, the same client websites embed. */
import { Alert, Anchor, Badge, Button, Group, Modal, Stack, Text } from "@mantine/core";
import { IconMicrophone, IconPhoneOff } from "@tabler/icons-react";
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";

type Draft = Schemas["AgentCreate"];
type State = "idle" | "connecting" | "live" | "ended" | "failed";
type Latency = Record<string, number | null>;
interface Line { role: "caller" | "agent"; text: string; interrupted: boolean }
interface Turn { index: number; latency: Latency }
interface WebCallEvents {
  state?: (state: State) => void;
  started?: (info: { callId: string; draft: boolean }) => void;
  transcript?: (line: Line) => void;
  turn?: (turn: Turn) => void;
  audio?: (msPlayed: number) => void;
  cleared?: () => void;
  ended?: (info: { callId: string | null; reason: string }) => void;
  error?: (error: { kind: string; message: string }) => void;
}
interface WebCallClient {
  start(options: { socketUrl: string; token: string; on: WebCallEvents }): { hangup(): void };
}
declare global {
  interface Window { VocalsWebCall?: WebCallClient }
}

const SCRIPT_URL = "/web-call.js";
const STATUS: Record<State, string> = {
  idle: "",
  connecting: "Connecting…",
  live: "Connected: speak now",
  ended: "Call ended",
  failed: "",
};

let loading: Promise<WebCallClient> | null = null;

/** The server's web-call client, loaded once. */
function loadClient(): Promise<WebCallClient> {
  if (window.VocalsWebCall) return Promise.resolve(window.VocalsWebCall);
  loading ??= new Promise<WebCallClient>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = SCRIPT_URL;
    script.onload = () => (window.VocalsWebCall ? resolve(window.VocalsWebCall) : reject(new Error("no client")));
    script.onerror = () => {
      loading = null;
      reject(new Error("The web-call client could not be loaded from the server."));
    };
    document.head.append(script);
  });
  return loading;
}

function turnLine(turn: Turn): string {
  const l = turn.latency;
  const parts = [
    ["speech recognition", l.stt_final_ms],
    ["first token", l.llm_first_token_ms],
    ["first audio", l.tts_first_audio_ms],
  ].filter(([, ms]) => ms !== null && ms !== undefined).map(([name, ms]) => `${name} ${ms} ms`);
  return `Turn ${turn.index}: ${l.total_ms} ms to the agent's first audio${parts.length ? ` (${parts.join(" · ")})` : ""}`;
}

export function WebCallPanel({ agentId, draft = null, compact = false }: {
  agentId: string;
  /** The agent's unsaved changes (null: the agent as saved). */
  draft?: Draft | null;
  compact?: boolean;
}) {
  const [opened, setOpened] = useState(false);
  const [state, setState] = useState<State>("idle");
  const [error, setError] = useState<string | null>(null);
  const [callId, setCallId] = useState<string | null>(null);
  const [isDraft, setIsDraft] = useState(false);
  const [lines, setLines] = useState<Line[]>([]);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [heardMs, setHeardMs] = useState(0);
  const [interruptions, setInterruptions] = useState(0);
  const call = useRef<{ hangup(): void } | null>(null);

  useEffect(() => () => call.current?.hangup(), []);

  const start = async () => {
    setOpened(true);
    setState("connecting");
    setError(null);
    setCallId(null);
    setLines([]);
    setTurns([]);
    setHeardMs(0);
    setInterruptions(0);
    try {
      const body = draft === null ? {} : { draft: { ...draft, inbound_numbers: undefined } };
      const [client, grant] = await Promise.all([
        loadClient(),
        unwrap(api.POST("/api/v1/agents/{agent_id}/web-calls", { params: { path: { agent_id: agentId } }, body })),
      ]);
      setIsDraft(grant.draft);
      call.current = client.start({
        socketUrl: grant.socket_url,
        token: grant.token,
        on: {
          state: setState,
          started: (info) => setCallId(info.callId),
          transcript: (line) => setLines((all) => [...all, line]),
          turn: (turn) => { if (turn.latency.total_ms !== null) setTurns((all) => [...all, turn]); },
          audio: setHeardMs,
          cleared: () => setInterruptions((n) => n + 1),
          error: (e) => setError(e.message),
        },
      });
    } catch (e) {
      setState("failed");
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const live = state === "connecting" || state === "live";
  const close = () => {
    call.current?.hangup();
    setOpened(false);
  };

  return (
    <>
      <Button variant={compact ? "subtle" : "light"} size={compact ? "xs" : "sm"} leftSection={<IconMicrophone size={16} />}
        onClick={() => void start()} disabled={live}>
        {compact ? "Talk" : "Talk to this agent"}
      </Button>
      <Modal opened={opened} onClose={close} title="Talk to this agent" size="lg">
        <Stack gap="sm">
          <Group justify="space-between">
            <Group gap="xs">
              <Text size="sm" role="status">{STATUS[state]}</Text>
              {isDraft && <Badge color="orange" variant="light">Draft: unsaved changes</Badge>}
            </Group>
            {live && (
              <Button color="red" size="xs" leftSection={<IconPhoneOff size={16} />} onClick={() => call.current?.hangup()}>
                Hang up
              </Button>
            )}
          </Group>
          {error && <Alert color="red" title="The call could not go on">{error}</Alert>}
          <Stack gap={4} aria-label="Live transcript">
            {lines.map((line, i) => (
              <Text key={i} size="sm" data-role={line.role}>
                <b>{line.role === "caller" ? "You" : "Agent"}:</b> {line.text}
                {line.interrupted && <Text span c="dimmed"> (interrupted)</Text>}
              </Text>
            ))}
          </Stack>
          {turns.length > 0 && (
            <Stack gap={2} aria-label="Turn latencies">
              {turns.map((turn) => <Text key={turn.index} size="xs" c="dimmed">{turnLine(turn)}</Text>)}
            </Stack>
          )}
          <Text size="xs" c="dimmed" aria-label="Agent audio">
            Agent audio played: {(heardMs / 1000).toFixed(1)} s{interruptions > 0 && ` · interrupted ${interruptions}×`}
          </Text>
          {(state === "ended" || state === "failed") && callId && (
            <Anchor component={Link} to={`/calls/${callId}`} onClick={() => setOpened(false)}>Open the call's page</Anchor>
          )}
        </Stack>
      </Modal>
    </>
  );
}
