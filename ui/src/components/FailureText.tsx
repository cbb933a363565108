/** A failure's reason as people read it: the plain cause and next step when known, the
 * technical reason below it for whoever digs further. */
import { Text } from "@mantine/core";
import { explainFailure } from "../lib/explain";

export function FailureText({ reason, size = "sm", maw }: { reason: string; size?: "xs" | "sm"; maw?: number }) {
  const explained = explainFailure(reason);
  if (!explained) return <Text c="red" size={size} maw={maw}>{reason}</Text>;
  return (
    <div style={{ maxWidth: maw }}>
      <Text c="red" size={size} fw={600}>{explained.cause}</Text>
      <Text size={size}>{explained.next}</Text>
      <Text size="xs" c="dimmed" ff="monospace" style={{ overflowWrap: "anywhere" }}>{reason}</Text>
    </div>
  );
}
