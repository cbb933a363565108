/** Routes: the login page, and every other page behind a session. */
import { Navigate, Route, Routes, useLocation } from "react-router";
import { useAuth } from "./auth/AuthContext";
import { Layout } from "./components/Layout";
import { Loading } from "./components/PageState";
import { LoginPage } from "./pages/LoginPage";
import { DashboardPage } from "./pages/DashboardPage";
import { AgentsPage } from "./pages/AgentsPage";
import { AgentEditPage } from "./pages/AgentEditPage";
import { ProvidersPage } from "./pages/ProvidersPage";
import { TrunksPage } from "./pages/TrunksPage";
import { CallsPage } from "./pages/CallsPage";
import { CallDetailPage } from "./pages/CallDetailPage";
import { CampaignsPage } from "./pages/CampaignsPage";
import { CampaignDetailPage } from "./pages/CampaignDetailPage";
import { DoNotCallPage } from "./pages/DoNotCallPage";
import { AnalyticsPage } from "./pages/AnalyticsPage";
import { WebhooksPage } from "./pages/WebhooksPage";
import { PricesPage } from "./pages/PricesPage";
import { ApiKeysPage } from "./pages/ApiKeysPage";
import { AuditLogPage } from "./pages/AuditLogPage";
import { UsersPage } from "./pages/UsersPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { SecurityPage } from "./pages/SecurityPage";
import { AcceptInvitationPage, ResetPasswordPage, SsoLandingPage } from "./pages/LinkLandingPages";

function RequireSession() {
  const { me, loading } = useAuth();
  const location = useLocation();
  if (loading) return <Loading what="your session" />;
  if (!me) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  // The tenant requires a second factor of this user: nothing else answers until it is set up.
  if (me.must_enrol_two_factor && location.pathname !== "/security") return <Navigate to="/security" replace />;
  return <Layout />;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/sso" element={<SsoLandingPage />} />
      <Route path="/accept-invitation" element={<AcceptInvitationPage />} />
      <Route path="/reset-password" element={<ResetPasswordPage />} />
      <Route element={<RequireSession />}>
        <Route index element={<DashboardPage />} />
        <Route path="agents" element={<AgentsPage />} />
        <Route path="agents/new" element={<AgentEditPage />} />
        <Route path="agents/:agentId" element={<AgentEditPage />} />
        <Route path="providers" element={<ProvidersPage />} />
        <Route path="sip-trunks" element={<TrunksPage />} />
        <Route path="calls" element={<CallsPage />} />
        <Route path="calls/:callId" element={<CallDetailPage />} />
        <Route path="campaigns" element={<CampaignsPage />} />
        <Route path="campaigns/:campaignId" element={<CampaignDetailPage />} />
        <Route path="do-not-call" element={<DoNotCallPage />} />
        <Route path="analytics" element={<AnalyticsPage />} />
        <Route path="prices" element={<PricesPage />} />
        <Route path="webhooks" element={<WebhooksPage />} />
        <Route path="api-keys" element={<ApiKeysPage />} />
        <Route path="audit-log" element={<AuditLogPage />} />
        <Route path="users" element={<UsersPage />} />
        <Route path="security" element={<SecurityPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
