/** Context every screen needs (theme, data cache, session); shared by the app and the tests. */
import type { ReactNode } from "react";
import { MantineProvider } from "@mantine/core";
import { ModalsProvider } from "@mantine/modals";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { AuthProvider } from "./auth/AuthContext";
import { theme } from "./theme";

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      // A 4xx will not get better by asking again; a dropped connection might.
      queries: { retry: (count, error) => count < 2 && !("status" in (error as object)), refetchOnWindowFocus: false },
    },
  });
}

/** `env="test"` turns off Mantine's transitions and portals, which jsdom cannot run. */
export function AppProviders({ client, children, env }: { client: QueryClient; children: ReactNode; env?: "default" | "test" }) {
  return (
    <MantineProvider theme={theme} env={env}>
      <Notifications position="top-right" autoClose={3000} />
      <QueryClientProvider client={client}>
        <ModalsProvider>
          <AuthProvider>{children}</AuthProvider>
        </ModalsProvider>
      </QueryClientProvider>
    </MantineProvider>
  );
}
