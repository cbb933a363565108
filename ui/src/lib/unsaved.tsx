/** Asking before unsaved edits are lost: on a move to another page of the app (a confirm
 * dialog) and on closing or reloading the tab (the browser's own prompt). */
import { useEffect } from "react";
import { Button, Group, Modal, Text } from "@mantine/core";
import { useBlocker } from "react-router";

/** `unsaved()` is read at the moment of leaving, so a save that navigates can clear it first. */
export function UnsavedChangesPrompt({ unsaved }: { unsaved: () => boolean }) {
  const blocker = useBlocker(({ currentLocation, nextLocation }) =>
    currentLocation.pathname !== nextLocation.pathname && unsaved());
  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      if (unsaved()) event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [unsaved]);
  return (
    <Modal opened={blocker.state === "blocked"} onClose={() => blocker.reset?.()} title="Leave without saving?">
      <Text size="sm">Your changes to this form are not saved and will be lost.</Text>
      <Group justify="flex-end" mt="md">
        <Button variant="default" onClick={() => blocker.reset?.()}>Keep editing</Button>
        <Button color="red" onClick={() => blocker.proceed?.()}>Discard changes</Button>
      </Group>
    </Modal>
  );
}
