/** A trunk's state as Asterisk sees it now: endpoint, registration and channels in use. */
import { Badge, Group, Text, Tooltip } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import { errorMessage, unwrap } from "../api/problem";

// Registration changes on the carrier's schedule; a few seconds late is still "live".
const REFRESH_MS = 10_000;

function endpointColor(state: string): string {
  if (state === "online") return "green";
  if (state === "offline" || state === "absent") return "red";
  return "gray";
}

function registrationColor(state: string): string {
  if (state === "Registered") return "green";
  if (state === "Rejected" || state === "absent") return "red";
  return "yellow";
}

export function TrunkLiveStatus({ trunkId }: { trunkId: string }) {
  const status = useQuery({
    queryKey: ["sip-trunk-status", trunkId],
    queryFn: () => unwrap(api.GET("/api/v1/sip-trunks/{trunk_id}/status", { params: { path: { trunk_id: trunkId } } })),
    refetchInterval: REFRESH_MS,
    retry: false,
  });
  if (status.isPending) return <Text size="sm" c="dimmed">checking…</Text>;
  if (status.error || !status.data) {
    return (
      <Tooltip label={errorMessage(status.error)} multiline w={260}>
        <Badge color="gray" variant="outline" aria-label={`Status unknown: ${errorMessage(status.error)}`}>Unknown</Badge>
      </Tooltip>
    );
  }
  const s = status.data;
  return (
    <Group gap={4} wrap="nowrap">
      <Badge color={endpointColor(s.endpoint_state)} variant="light">{s.endpoint_state}</Badge>
      {s.registration !== null && <Badge color={registrationColor(s.registration)} variant="light">{s.registration}</Badge>}
      <Text size="xs" c="dimmed">{s.active_channels} in use</Text>
      {(s.errors ?? []).length > 0 && (
        <Tooltip label={(s.errors ?? []).join("; ")} multiline w={300}><Badge color="orange" variant="outline">!</Badge></Tooltip>
      )}
    </Group>
  );
}
