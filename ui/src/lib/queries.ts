/** Queries several pages share. */
import { useQuery, type QueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";

export type Vendor = Schemas["VendorInfo"];
export type Kind = Schemas["ProviderKind"];

/** Lists are paginated; 200 is the API's largest page and more than a tenant configures. */
export const ALL = 200;

export function useCatalog() {
  return useQuery({
    queryKey: ["catalog"],
    queryFn: () => unwrap(api.GET("/api/v1/providers/catalog")),
    staleTime: 5 * 60_000,
  });
}

export function useAllProviders() {
  return useQuery({
    queryKey: ["providers", "all"],
    queryFn: () => unwrap(api.GET("/api/v1/providers", { params: { query: { limit: ALL } } })),
  });
}

export function useAllAgents() {
  return useQuery({
    queryKey: ["agents", "all"],
    queryFn: () => unwrap(api.GET("/api/v1/agents", { params: { query: { limit: ALL } } })),
  });
}

/** Every SIP trunk, for pickers; fetched only while `enabled` (e.g. a form is open). */
export function useAllTrunks(enabled = true) {
  return useQuery({
    queryKey: ["sip-trunks", "all"],
    queryFn: () => unwrap(api.GET("/api/v1/sip-trunks", { params: { query: { limit: ALL } } })),
    enabled,
  });
}

/** Agent names by id, for tables of calls. */
export function useAgentNames(): Map<string, string> {
  const agents = useAllAgents();
  return new Map((agents.data?.items ?? []).map((a) => [a.id, a.name]));
}

/** After routed numbers changed (an agent's numbers, a trunk's inbound routes, which carrier
 * takes a number): every list that shows them is read again, whichever page changed them. */
export function numbersChanged(queryClient: QueryClient): Promise<void> {
  return Promise.all([
    queryClient.invalidateQueries({ queryKey: ["agents"] }),
    queryClient.invalidateQueries({ queryKey: ["sip-trunks"] }),
    queryClient.invalidateQueries({ queryKey: ["twilio"] }),
  ]).then(() => undefined);
}
