import { ActionIcon, Tooltip } from "@mantine/core";
import { modals } from "@mantine/modals";
import { IconEdit, IconTrash } from "@tabler/icons-react";
import type { ReactNode } from "react";

/** A table row's Edit and Delete buttons; Delete asks first, saying what deleting means. */
export function EditDeleteActions({ name, title, consequence, onEdit, onDelete }: {
  name: string;
  title: string;
  consequence: ReactNode;
  onEdit: () => void;
  onDelete: () => void;
}) {
  return (
    <>
      <Tooltip label="Edit"><ActionIcon variant="subtle" aria-label={`Edit ${name}`} onClick={onEdit}><IconEdit size={18} /></ActionIcon></Tooltip>
      <Tooltip label="Delete"><ActionIcon variant="subtle" color="red" aria-label={`Delete ${name}`}
        onClick={() => modals.openConfirmModal({
          title, children: consequence,
          labels: { confirm: "Delete", cancel: "Cancel" }, confirmProps: { color: "red" },
          onConfirm: onDelete,
        })}><IconTrash size={18} /></ActionIcon></Tooltip>
    </>
  );
}
