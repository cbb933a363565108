/** Context every screen needs (theme, data cache, session); shared by the app and the tests. */
import type { ReactNode } from "react";
import { MantineProvider } from "@mantine/core";
import { ModalsProvider } from "@mantine/modals";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { AuthProvider } from "./auth/AuthContext";
import { theme } from "./theme";

/** A 4xx will not get better by asking again; a dropped connection or a busy server (a 503
 * when a backing service did not answer in time) might. */
function worthRetrying(count: number, error: unknown): boolean {
  const status = (error as { status?: unknown }).status;
  return count < 2 && (typeof status !== "number" || status >= 500);
}

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: worthRetrying, refetchOnWindowFocus: false },
    },
  });
}

/** `env="test"` turns off Mantine's transitions and portals, which jsdom cannot run. */
export function AppProviders({ client, children, env }: { client: QueryClient; children: ReactNode; env?: "default" | "test" }) {
  return (
    <MantineProvider theme={theme} env={env} defaultColorScheme="auto">
      <Notifications position="top-right" autoClose={3000} />
      <QueryClientProvider client={client}>
        <ModalsProvider>
          <AuthProvider>{children}</AuthProvider>
        </ModalsProvider>
      </QueryClientProvider>
    </MantineProvider>
  );
}
