/** A trunk's state as Asterisk sees it now: the endpoint with its channels in use, and (under the
 * trunk's kind on the trunks page) the carrier registration, in words. */
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

/** AMI's registration status (provisioning/status.py) as a badge colour and words. */
export function registrationText(state: string): { color: string; text: string } {
  switch (state) {
    case "Registered": return { color: "green", text: "Registered" };
    case "Rejected": return { color: "red", text: "Rejected by the carrier" };
    case "Unregistered": return { color: "yellow", text: "Not registered yet" };
    case "Stopped": return { color: "yellow", text: "Stopped" };
    case "absent": return { color: "red", text: "Not in Asterisk" };
    case "unavailable": return { color: "gray", text: "Unknown: AMI unavailable" };
    default: return { color: "yellow", text: state };
  }
}

function useTrunkStatus(trunkId: string) {
  // One query for both columns: the same key shares the answer.
  return useQuery({
    queryKey: ["sip-trunk-status", trunkId],
    queryFn: () => unwrap(api.GET("/api/v1/sip-trunks/{trunk_id}/status", { params: { path: { trunk_id: trunkId } } })),
    refetchInterval: REFRESH_MS,
    retry: false,
  });
}

function Unknown({ error }: { error: unknown }) {
  return (
    <Tooltip label={errorMessage(error)} multiline w={260}>
      <Badge color="gray" variant="outline" aria-label={`Status unknown: ${errorMessage(error)}`}>Unknown</Badge>
    </Tooltip>
  );
}

export function TrunkLiveStatus({ trunkId }: { trunkId: string }) {
  const status = useTrunkStatus(trunkId);
  if (status.isPending) return <Text size="sm" c="dimmed">checking…</Text>;
  if (status.error || !status.data) return <Unknown error={status.error} />;
  const s = status.data;
  return (
    <Group gap={4} wrap="nowrap">
      <Badge color={endpointColor(s.endpoint_state)} variant="light">{s.endpoint_state}</Badge>
      <Text size="xs" c="dimmed">{s.active_channels} in use</Text>
      {(s.errors ?? []).length > 0 && (
        <Tooltip label={(s.errors ?? []).join("; ")} multiline w={300}><Badge color="orange" variant="outline" aria-label={`Problems: ${(s.errors ?? []).join("; ")}`}>!</Badge></Tooltip>
      )}
    </Group>
  );
}

/** The trunk's registration with its carrier; nothing for an IP trunk, which does not register. */
export function TrunkRegistration({ trunkId }: { trunkId: string }) {
  const status = useTrunkStatus(trunkId);
  if (status.isPending) return <Text size="sm" c="dimmed">checking…</Text>;
  if (status.error || !status.data) return <Unknown error={status.error} />;
  const registration = status.data.registration;
  if (registration === null) return null;
  const { color, text } = registrationText(registration);
  const badge = <Badge color={color} variant="light" style={{ textTransform: "none" }} data-testid="trunk-registration">{text}</Badge>;
  const why = (status.data.errors ?? []).filter((e) => e.startsWith("AMI"));
  return why.length > 0 ? <Tooltip label={why.join("; ")} multiline w={300}>{badge}</Tooltip> : badge;
}
