/** The process's supervised background tasks as `/healthz` reports them (ari_app/tasks.py):
 * each one's state, how often it was restarted and the last error, readable on a phone. */
import { Badge, Stack, Table, Text } from "@mantine/core";

export interface TaskRow {
  name: string;
  state: string;
  restarts: number;
  lastError: string | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The report's `tasks` entry as rows, by name; anything not shaped like a task is left out. */
export function tasksOf(raw: unknown): TaskRow[] {
  if (!isRecord(raw)) return [];
  return Object.entries(raw)
    .filter((entry): entry is [string, Record<string, unknown>] => isRecord(entry[1]))
    .map(([name, task]) => ({
      name,
      state: typeof task.state === "string" ? task.state : "unknown",
      restarts: typeof task.restarts === "number" ? task.restarts : 0,
      lastError: typeof task.last_error === "string" && task.last_error !== "" ? task.last_error : null,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function TaskList({ tasks }: { tasks: TaskRow[] }) {
  if (tasks.length === 0) return null;
  return (
    <Stack gap={4} mt="md">
      <Text size="xs" c="dimmed" tt="uppercase" fw={600} id="tasks-title">Background tasks</Text>
      <Table fz="sm" layout="fixed" verticalSpacing={6} aria-labelledby="tasks-title">
        <Table.Thead>
          <Table.Tr><Table.Th>Task</Table.Th><Table.Th w={104}>State</Table.Th><Table.Th w={76} ta="right">Restarts</Table.Th></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {tasks.map((task) => (
            <Table.Tr key={task.name}>
              <Table.Td>
                <Text size="sm" ff="monospace" style={{ overflowWrap: "anywhere" }}>{task.name}</Text>
                {task.lastError && (
                  <Text size="xs" c={task.state === "running" ? "dimmed" : "red"} style={{ overflowWrap: "anywhere" }}>Last error: {task.lastError}</Text>
                )}
              </Table.Td>
              <Table.Td><Badge size="sm" variant="light" color={task.state === "running" ? "green" : "orange"}>{task.state}</Badge></Table.Td>
              <Table.Td ta="right">{task.restarts}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
