/** Campaigns: each one's status and live counts, with start / pause / resume / cancel, a link
 * to its page (leads, imports, results) and a form to create one. */
import { useState } from "react";
import { Anchor, Badge, Button, Card, Group, Modal, Stack, Text } from "@mantine/core";
import { IconPlus } from "@tabler/icons-react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { CampaignForm } from "../components/CampaignForm";
import { CAMPAIGN_REFRESH_MS, CampaignActions, CampaignProgress } from "../components/CampaignProgress";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, Loading, QueryView } from "../components/PageState";
import { Pager } from "../components/Pager";
import { STATUS_COLOR, type Campaign, type CampaignBody } from "../lib/campaigns";
import { notifySaved } from "../lib/forms";
import { useAllAgents, useAllTrunks } from "../lib/queries";

const LIMIT = 20;

function CampaignCard({ campaign }: { campaign: Campaign }) {
  return (
    <Card withBorder component="article" aria-label={campaign.name}>
      <Group justify="space-between" mb="sm">
        <Group gap="xs">
          <Anchor component={Link} to={`/campaigns/${campaign.id}`} fw={600}>{campaign.name}</Anchor>
          <Badge color={STATUS_COLOR[campaign.status] ?? "gray"} variant="light">{campaign.status}</Badge>
        </Group>
        <CampaignActions campaign={campaign} />
      </Group>
      <CampaignProgress campaign={campaign} />
    </Card>
  );
}

/** The create form in a modal, once the agents and trunks it offers are loaded. */
function NewCampaignModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const agents = useAllAgents();
  const trunks = useAllTrunks(opened);
  const create = async (body: CampaignBody) => {
    const created = await unwrap(api.POST("/api/v1/campaigns", { body }));
    await queryClient.invalidateQueries({ queryKey: ["campaigns"] });
    notifySaved(`Campaign ${created.name} created: add its leads, then start it`);
    onClose();
    navigate(`/campaigns/${created.id}`);
  };
  return (
    <Modal opened={opened} onClose={onClose} size="xl" title="New campaign">
      {agents.data && trunks.data ? (
        <CampaignForm agents={agents.data.items} trunks={trunks.data.items} onSubmit={create} onCancel={onClose} />
      ) : <Loading what="agents and trunks" />}
    </Modal>
  );
}

export function CampaignsPage() {
  const { canEdit } = useAuth();
  const [creating, setCreating] = useState(false);
  const [offset, setOffset] = useState(0);
  const campaigns = useQuery({
    queryKey: ["campaigns", offset],
    queryFn: () => unwrap(api.GET("/api/v1/campaigns", { params: { query: { limit: LIMIT, offset } } })),
    refetchInterval: CAMPAIGN_REFRESH_MS,
  });
  return (
    <>
      <PageHeader title="Campaigns" description="Outbound campaigns and how far each has got, live."
        actions={canEdit && <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>New campaign</Button>} />
      <QueryView query={campaigns} what="the campaigns">
        {(page) => page.items.length === 0 ? (
          <EmptyState title="No campaigns yet">
            {canEdit ? "Create one with New campaign, then import its leads." : "An admin creates them."}
          </EmptyState>
        ) : (
          <Stack>
            {page.items.map((c) => <CampaignCard key={c.id} campaign={c} />)}
            <Pager total={page.total} limit={LIMIT} offset={offset} onOffset={setOffset} />
          </Stack>
        )}
      </QueryView>
      <Text size="xs" c="dimmed" mt="md">Numbers on the <Anchor component={Link} to="/do-not-call" size="xs">do-not-call list</Anchor> are never dialled.</Text>
      <NewCampaignModal opened={creating} onClose={() => setCreating(false)} />
    </>
  );
}
