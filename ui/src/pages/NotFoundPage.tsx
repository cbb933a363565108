import { Anchor } from "@mantine/core";
import { Link } from "react-router";
import { EmptyState } from "../components/PageState";

export function NotFoundPage() {
  return (
    <EmptyState title="No such page">
      <Anchor component={Link} to="/">Back to the dashboard</Anchor>
    </EmptyState>
  );
}
