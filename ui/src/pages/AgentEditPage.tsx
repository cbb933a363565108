import { Button, Group } from "@mantine/core";
import { modals } from "@mantine/modals";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate, useParams } from "react-router";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { AgentForm, type AgentBody } from "../components/AgentForm";
import { PageHeader } from "../components/PageHeader";
import { WebCallPanel } from "../components/WebCallPanel";
import { ErrorState, Loading } from "../components/PageState";
import { notifyFailed, notifySaved } from "../lib/forms";
import { numbersChanged, useAllProviders, useCatalog } from "../lib/queries";
import { notifySavedWithReload } from "../lib/reload";

export function AgentEditPage() {
  const { agentId } = useParams();
  const { canEdit } = useAuth();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<AgentBody | null>(null);
  const catalog = useCatalog();
  const providers = useAllProviders();
  const agent = useQuery({
    queryKey: ["agent", agentId],
    queryFn: () => unwrap(api.GET("/api/v1/agents/{agent_id}", { params: { path: { agent_id: agentId! } } })),
    enabled: agentId !== undefined,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/agents/{agent_id}", { params: { path: { agent_id: agentId! } } })),
    onSuccess: () => {
      void numbersChanged(queryClient);
      notifySaved("Agent deleted");
      navigate("/agents");
    },
    onError: notifyFailed,
  });

  const save = async (body: AgentBody) => {
    const saved = agentId
      ? await unwrap(api.PATCH("/api/v1/agents/{agent_id}", { params: { path: { agent_id: agentId } }, body }))
      : await unwrap(api.POST("/api/v1/agents", { body }));
    await numbersChanged(queryClient);
    queryClient.setQueryData(["agent", saved.id], saved);
    // Inbound numbers live in Asterisk's dialplan too; say so when it could not be updated.
    notifySavedWithReload(agentId ? "Agent saved" : "Agent created", saved.reload);
    if (!agentId) navigate(`/agents/${saved.id}`, { replace: true });
  };

  const pending = catalog.isPending || providers.isPending || (agentId !== undefined && agent.isPending);
  const error = catalog.error ?? providers.error ?? agent.error;
  const title = agentId ? (agent.data?.name ?? "Agent") : "New agent";

  return (
    <>
      <PageHeader
        title={title}
        description={agentId ? "Edit every setting of this agent." : "Set up a new voice agent."}
        actions={
          agentId && canEdit && (
            <Group>
              <WebCallPanel agentId={agentId} draft={draft} />
              <Button variant="light" color="red" loading={remove.isPending}
                onClick={() => modals.openConfirmModal({
                  title: "Delete this agent?",
                  children: "Calls already made keep their records.",
                  labels: { confirm: "Delete", cancel: "Cancel" },
                  confirmProps: { color: "red" },
                  onConfirm: () => remove.mutate(),
                })}>
                Delete
              </Button>
            </Group>
          )
        }
      />
      {pending ? (
        <Loading what="the agent" />
      ) : error ? (
        <ErrorState error={error} />
      ) : (
        <AgentForm
          key={agent.data?.updated_at ?? "new"}
          agent={agent.data}
          vendors={catalog.data?.vendors ?? []}
          providers={providers.data?.items ?? []}
          readOnly={!canEdit}
          onSubmit={save}
          onDraft={setDraft}
        />
      )}
    </>
  );
}
