/** The tenant's sign-in policy, for its owners: a second factor for owners and admins, and
 * single sign-on for everyone (an owner with two-factor on keeps a password way in). */
import { useState } from "react";
import { Alert, Card, Stack, Switch, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { errorMessage, unwrap } from "../api/problem";
import { notifySaved } from "../lib/forms";
import { QueryView } from "./PageState";

export function SignInPolicy() {
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const query = useQuery({ queryKey: ["tenant"], queryFn: () => unwrap(api.GET("/api/v1/tenant")) });
  const update = async (body: Schemas["TenantUpdate"]) => {
    setError(null);
    try {
      await unwrap(api.PATCH("/api/v1/tenant", { body }));
      notifySaved("Sign-in policy saved");
      await queryClient.invalidateQueries({ queryKey: ["tenant"] });
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <Card withBorder mt="md">
      <QueryView query={query} what="the sign-in policy">
        {(tenant) => (
          <Stack>
            <Title order={2} size="h4">Sign-in policy of {tenant.name}</Title>
            {error && <Alert color="red" role="alert">{error}</Alert>}
            <Switch
              label="Require two-factor sign-in of owners and admins"
              checked={tenant.require_two_factor}
              onChange={(e) => void update({ require_two_factor: e.currentTarget.checked })}
            />
            <Switch
              label="Require single sign-on"
              description="Passwords are refused. Break-glass: an owner with two-factor on may still sign in with their password (audited), should the identity provider fail."
              checked={tenant.require_sso}
              onChange={(e) => void update({ require_sso: e.currentTarget.checked })}
            />
          </Stack>
        )}
      </QueryView>
    </Card>
  );
}
