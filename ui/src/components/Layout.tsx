/** The app shell: navigation (a drawer on small screens), the signed-in user and the page. */
import { ActionIcon, AppShell, Badge, Burger, Button, Group, NavLink, ScrollArea, Text, Title, useComputedColorScheme, useMantineColorScheme } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconActivity, IconChartBar, IconFileText, IconKey, IconLogout, IconPhone, IconPlugConnected,
  IconRobot, IconServer2, IconShieldLock, IconUsers, IconWebhook, IconLayoutDashboard, IconMoon,
  IconPhoneOff, IconSpeakerphone, IconSun, IconReceipt,
} from "@tabler/icons-react";
import { NavLink as RouterLink, Outlet, useLocation } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { ErrorBoundary } from "./ErrorBoundary";

const NAV = [
  { to: "/", label: "Dashboard", icon: IconLayoutDashboard },
  { to: "/calls", label: "Calls", icon: IconPhone },
  { to: "/campaigns", label: "Campaigns", icon: IconSpeakerphone },
  { to: "/do-not-call", label: "Do not call", icon: IconPhoneOff },
  { to: "/analytics", label: "Analytics", icon: IconChartBar },
  { to: "/prices", label: "Prices", icon: IconReceipt },
  { to: "/agents", label: "Agents", icon: IconRobot },
  { to: "/providers", label: "Providers", icon: IconPlugConnected },
  { to: "/sip-trunks", label: "SIP trunks", icon: IconServer2 },
  { to: "/webhooks", label: "Webhooks", icon: IconWebhook },
  { to: "/api-keys", label: "API keys", icon: IconKey },
  { to: "/audit-log", label: "Audit log", icon: IconFileText },
  { to: "/users", label: "Users", icon: IconUsers },
  { to: "/security", label: "Security", icon: IconShieldLock },
] as const;

/** Light or dark: the system's choice until the person picks one here (kept in this browser). */
function ColorSchemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const dark = useComputedColorScheme("light") === "dark";
  return (
    <ActionIcon variant="subtle" aria-label={dark ? "Use light mode" : "Use dark mode"} onClick={() => setColorScheme(dark ? "light" : "dark")}>
      {dark ? <IconSun size={18} /> : <IconMoon size={18} />}
    </ActionIcon>
  );
}

export function Layout() {
  const [opened, { toggle, close }] = useDisclosure();
  const { me, logout } = useAuth();
  const { pathname } = useLocation();
  const isActive = (to: string) => (to === "/" ? pathname === "/" : pathname.startsWith(to));

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 230, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <a href="#main" className="skip-link">Skip to content</a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="xs" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <IconActivity aria-hidden color="var(--mantine-color-indigo-6)" />
            <Title order={2} size="h4">Vocals</Title>
          </Group>
          <Group gap="sm" wrap="nowrap">
            {me && (
              <Group gap={6} visibleFrom="xs" wrap="nowrap">
                <Text size="sm" truncate maw={220}>{me.actor}</Text>
                <Badge variant="light">{me.role}</Badge>
              </Group>
            )}
            <ColorSchemeToggle />
            <Button variant="subtle" size="xs" leftSection={<IconLogout size={16} />} onClick={() => void logout()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        <ScrollArea>
          {NAV.map(({ to, label, icon: Icon }) => (
            <NavLink
              key={to}
              component={RouterLink}
              to={to}
              label={label}
              leftSection={<Icon size={18} stroke={1.6} />}
              active={isActive(to)}
              onClick={close}
            />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        <ErrorBoundary resetKey={pathname}>
          <Outlet />
        </ErrorBoundary>
      </AppShell.Main>
    </AppShell>
  );
}
