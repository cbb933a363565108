import { Anchor } from "@mantine/core";
import { useDocumentTitle } from "@mantine/hooks";
import { Link } from "react-router";
import { EmptyState } from "../components/PageState";

export function NotFoundPage() {
  useDocumentTitle("No such page · Vocals");
  return (
    <EmptyState title="No such page">
      <Anchor component={Link} to="/">Back to the dashboard</Anchor>
    </EmptyState>
  );
}
