/** Catches a page that fails while rendering, so one bug shows a message with a way back
 * instead of blanking the whole app. Leaving the page (any navigation) clears it. */
import { Component, type ErrorInfo, type ReactNode } from "react";
import { Alert, Button, Group, Text } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";

interface Props {
  /** Changes on navigation: a new page gets a fresh try. */
  resetKey: string;
  children: ReactNode;
}

interface State {
  error: Error | null;
  resetKey: string;
}

export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null, resetKey: this.props.resetKey };

  static getDerivedStateFromError(error: Error): Partial<State> {
    return { error };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey === state.resetKey ? null : { error: null, resetKey: props.resetKey };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    // The stack is for whoever opens the console to report it; the page shows a plain message.
    console.error("Page failed to render", error, info.componentStack);
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <Alert color="red" title="This page stopped working" icon={<IconAlertTriangle />} role="alert" m="md">
        <Text size="sm" mb="sm">
          Something on this page failed ({this.state.error.message}). Nothing was lost on the server.
        </Text>
        <Group gap="sm">
          <Button size="xs" variant="light" color="red" onClick={() => this.setState({ error: null })}>
            Try again
          </Button>
          <Button size="xs" variant="subtle" component="a" href="/">
            Back to the dashboard
          </Button>
          <Button size="xs" variant="subtle" onClick={() => window.location.reload()}>
            Reload the app
          </Button>
        </Group>
      </Alert>
    );
  }
}
