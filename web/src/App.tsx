import { AppShell, Burger, Button, Group, NavLink, NativeSelect, Stack, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Suspense, lazy, useSyncExternalStore } from "react";
import { useTranslation } from "react-i18next";
import { Link, Navigate, Route, Routes, useLocation, useParams, useSearchParams } from "react-router";
import { notificationApi, unwrap } from "./api/client";
import { isManager, useCommunities, useCommunity, useMe } from "./api/hooks";
import { session } from "./api/session";
import { LoginPage, safeNext } from "./pages/LoginPage";
import { ErrorState, Loading, NotFound } from "./components/States";
import { setLanguage } from "./i18n";
import { CommunitySwitcher, useChoiceQuery, useChosenCommunity } from "./components/CommunityChoice";

// Only the sign-in and the overview are in the first load; the rest (and the
// chart library) load when visited.
import { OverviewPage } from "./pages/OverviewPage";
const EnergyPage = lazy(() => import("./pages/EnergyPage"));
const SettlementsPage = lazy(() => import("./pages/SettlementsPage"));
const DevicesPage = lazy(() => import("./pages/DevicesPage"));
const MembersPage = lazy(() => import("./pages/MembersPage"));
const ImportsPage = lazy(() => import("./pages/ImportsPage"));
const MemberHomePage = lazy(() => import("./pages/MemberHomePage"));
const ProfilePage = lazy(() => import("./pages/ProfilePage"));
const NotificationsPage = lazy(() => import("./pages/NotificationsPage"));
const PayoutsPage = lazy(() => import("./money/PayoutsPage"));
const ReconciliationPage = lazy(() => import("./money/ReconciliationPage"));
const ReportsPage = lazy(() => import("./money/ReportsPage"));
const PricesPage = lazy(() => import("./money/PricesPage"));
const StatementsPage = lazy(() => import("./pages/StatementsPage"));
const MyDataPage = lazy(() => import("./pages/MyDataPage"));

function useSignedIn(): boolean {
  return useSyncExternalStore(
    (listener) => session.subscribe(listener),
    () => session.isSignedIn(),
  );
}

export function App() {
  const signedIn = useSignedIn();
  const location = useLocation();
  if (!signedIn) {
    return (
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="*" element={<Navigate to={`/login?next=${encodeURIComponent(location.pathname)}`} replace />} />
      </Routes>
    );
  }
  return <SignedIn />;
}

/** Just signed in on /login?next=...: on to the page that was asked for. */
function LoginRedirect() {
  const [params] = useSearchParams();
  return <Navigate to={safeNext(params.get("next"))} replace />;
}

function Home() {
  const communities = useCommunities();
  const me = useMe();
  if (communities.isPending || me.isPending) return <Loading />;
  if (communities.isError) return <ErrorState error={communities.error} />;
  const first = communities.data?.[0];
  if (first && me.data?.user_type === "ADMIN") return <Navigate to={`/cer/${first.id}`} replace />;
  return <ManagedOrMember ids={(communities.data ?? []).map((c) => c.id)} />;
}

/** Managers land on their community; members on their own page. */
function ManagedOrMember({ ids }: { ids: number[] }) {
  const first = ids[0];
  const community = useCommunity(first ?? 0);
  const me = useMe();
  if (first === undefined) return <Navigate to="/me" replace />;
  if (community.isPending) return <Loading />;
  if (community.data && isManager(community.data.my_role, me.data?.user_type))
    return <Navigate to={`/cer/${first}`} replace />;
  return <Navigate to="/me" replace />;
}

function SignedIn() {
  const { t, i18n } = useTranslation();
  const [opened, { toggle, close }] = useDisclosure();
  const me = useMe();
  const queries = useQueryClient();
  const location = useLocation();
  // The community chosen in the URL (several communities: the header's switcher).
  const { community } = useChosenCommunity();
  const mine = useChoiceQuery();
  const unread = useQuery({
    queryKey: ["notifications", "unread"],
    queryFn: () => unwrap(notificationApi.GET("/api/notifications/unread-count/")),
    refetchInterval: 60_000,
  });

  async function signOut() {
    const refresh = sessionStorage.getItem("cerc.session");
    session.clear();
    queries.clear();
    if (refresh) {
      const token = (JSON.parse(refresh) as { refresh_token: string }).refresh_token;
      await fetch("/api/auth/logout/", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      }).catch(() => undefined);
    }
  }

  const link = (to: string, label: string) => (
    <NavLink
      key={to}
      component={Link}
      to={to}
      label={label}
      active={location.pathname === to.split("?")[0]}
      variant="filled"
      onClick={close}
    />
  );

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 240, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <a className="skip-link" href="#main">
        {t("common.skip")}
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t("nav.menu")} />
            <Title order={1} size="h4">
              CerCollettiva
            </Title>
          </Group>
          <Group gap="xs" wrap="nowrap">
            <CommunitySwitcher />
            <NativeSelect
              aria-label={t("common.language")}
              size="xs"
              value={i18n.language.startsWith("en") ? "en" : "it"}
              onChange={(e) => setLanguage(e.currentTarget.value)}
              data={[
                { value: "it", label: "IT" },
                { value: "en", label: "EN" },
              ]}
            />
            <Button size="xs" variant="default" onClick={() => void signOut()}>
              {t("nav.signOut")}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label={t("nav.menu")}>
        <Stack gap={0}>
          {me.data && (
            <Text size="sm" c="dimmed" px="sm" pb="xs">
              {me.data.first_name} {me.data.last_name}
            </Text>
          )}
          {community && <ManagerLinks communityId={community.id} link={link} />}
          <Text size="xs" fw={700} c="dimmed" px="sm" pt="sm">
            {t("nav.mine")}
          </Text>
          {link(`/me${mine}`, t("nav.myEnergy"))}
          {link(`/me/statements${mine}`, t("statements.nav"))}
          {link("/me/devices", t("nav.myDevices"))}
          {link("/me/notifications", unread.data?.unread ? t("nav.notificationsUnread", { count: unread.data.unread }) : t("nav.notifications"))}
          {link("/me/profile", t("nav.profile"))}
          {link("/me/data", t("myData.nav"))}
        </Stack>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route path="/" element={<Home />} />
            <Route path="/login" element={<LoginRedirect />} />
            <Route path="/cer/:id" element={<CommunityRoute page="overview" />} />
            <Route path="/cer/:id/energy" element={<CommunityRoute page="energy" />} />
            <Route path="/cer/:id/settlements" element={<CommunityRoute page="settlements" />} />
            <Route path="/cer/:id/devices" element={<CommunityRoute page="devices" />} />
            <Route path="/cer/:id/members" element={<CommunityRoute page="members" />} />
            <Route path="/cer/:id/imports" element={<CommunityRoute page="imports" />} />
            <Route path="/me" element={<MemberHomePage />} />
            <Route path="/me/devices" element={<DevicesPage />} />
            <Route path="/me/profile" element={<ProfilePage />} />
            <Route path="/me/notifications" element={<NotificationsPage />} />
            <Route path="/cer/:id/payouts" element={<PayoutsPage />} />
            <Route path="/cer/:id/reconciliation" element={<ReconciliationPage />} />
            <Route path="/cer/:id/reports" element={<ReportsPage />} />
            <Route path="/prices" element={<PricesPage />} />
            <Route path="/me/statements" element={<StatementsPage />} />
            <Route path="/me/data" element={<MyDataPage />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}

function ManagerLinks({
  communityId,
  link,
}: {
  communityId: number;
  link: (to: string, label: string) => React.ReactNode;
}) {
  const { t } = useTranslation();
  const community = useCommunity(communityId);
  const me = useMe();
  if (!community.data || !isManager(community.data.my_role, me.data?.user_type)) return null;
  const base = `/cer/${communityId}`;
  return (
    <>
      <Text size="xs" fw={700} c="dimmed" px="sm" pt="sm">
        {community.data.name}
      </Text>
      {link(base, t("nav.overview"))}
      {link(`${base}/energy`, t("nav.energy"))}
      {link(`${base}/settlements`, t("nav.settlements"))}
      {link(`${base}/devices`, t("nav.devices"))}
      {link(`${base}/members`, t("nav.members"))}
      {link(`${base}/imports`, t("nav.imports"))}
      {link(`${base}/payouts`, t("moneyNav.payouts"))}
      {link(`${base}/reconciliation`, t("moneyNav.reconciliation"))}
      {link(`${base}/reports`, t("moneyNav.reports"))}
      {link("/prices", t("moneyNav.prices"))}
    </>
  );
}

type CommunityPage = "overview" | "energy" | "settlements" | "devices" | "members" | "imports";

/** A community's pages: the community must be visible to the caller (the API answers 404 otherwise). */
function CommunityRoute({ page }: { page: CommunityPage }) {
  const { id } = useParams();
  const communityId = Number(id);
  const valid = Number.isInteger(communityId) && communityId > 0;
  const community = useCommunity(valid ? communityId : 0);
  const me = useMe();
  if (!valid) return <NotFound />;
  if (community.isPending || me.isPending) return <Loading />;
  if (community.isError) return <ErrorState error={community.error} />;
  const data = community.data;
  // The community's pages are its managers'; a member has their own (/me).
  // The services refuse them anyway: this only spares a page of errors.
  if (!isManager(data.my_role, me.data?.user_type)) return <NotFound />;
  switch (page) {
    case "overview":
      return <OverviewPage community={data} />;
    case "energy":
      return <EnergyPage communityId={communityId} />;
    case "settlements":
      return <SettlementsPage communityId={communityId} />;
    case "devices":
      return <DevicesPage communityId={communityId} />;
    case "members":
      return <MembersPage communityId={communityId} />;
    case "imports":
      return <ImportsPage communityId={communityId} />;
  }
}
