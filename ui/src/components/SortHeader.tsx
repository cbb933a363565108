/** A table header that sorts by its column: first click ascending, second descending. */
import { Table, UnstyledButton, Group, Text } from "@mantine/core";
import { IconArrowDown, IconArrowUp, IconSelector } from "@tabler/icons-react";
import type { ReactNode } from "react";

export function SortHeader({ column, sort, onSort, children }: { column: string; sort: string; onSort: (sort: string) => void; children: ReactNode }) {
  const active = sort.replace(/^-/, "") === column;
  const descending = sort.startsWith("-");
  const Icon = !active ? IconSelector : descending ? IconArrowDown : IconArrowUp;
  return (
    <Table.Th aria-sort={active ? (descending ? "descending" : "ascending") : "none"}>
      <UnstyledButton onClick={() => onSort(active && !descending ? `-${column}` : column)}>
        <Group gap={4} wrap="nowrap">
          <Text fw={700} size="sm">{children}</Text>
          <Icon size={14} aria-hidden />
        </Group>
      </UnstyledButton>
    </Table.Th>
  );
}
