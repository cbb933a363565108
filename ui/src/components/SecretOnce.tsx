/** A secret the API shows only once: copy it now or lose it. */
import { Alert, Button, CopyButton, Code, Group, Stack, Text } from "@mantine/core";
import { IconCheck, IconCopy } from "@tabler/icons-react";

export function SecretOnce({ title, secret, onDone }: { title: string; secret: string; onDone: () => void }) {
  return (
    <Stack>
      <Alert color="yellow" title={title}>
        <Text size="sm">Copy it now: it is shown only once and cannot be retrieved later.</Text>
      </Alert>
      <Code block data-testid="secret-once" style={{ wordBreak: "break-all", whiteSpace: "pre-wrap" }}>{secret}</Code>
      <Group justify="flex-end">
        <CopyButton value={secret}>
          {({ copied, copy }) => (
            <Button variant="light" leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />} onClick={copy}>
              {copied ? "Copied" : "Copy"}
            </Button>
          )}
        </CopyButton>
        <Button onClick={onDone}>Done</Button>
      </Group>
    </Stack>
  );
}
