// Which community the signed-in person is looking at, when they belong to or
// manage several. The choice lives in the URL (the path of a community's pages,
// `?cer=` on one's own pages) so a deep link opens the same community; the
// community must still be one the API shows the caller (else "not found").
import { NativeSelect } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate, useSearchParams } from "react-router";
import { useCommunities } from "../api/hooks";

/** The community id named by the URL, if any: /cer/:id/... or ?cer=id. */
export function communityInUrl(pathname: string, search: URLSearchParams): number | null {
  const inPath = /^\/cer\/(\d+)(\/|$)/.exec(pathname);
  const raw = inPath?.[1] ?? search.get("cer");
  const id = raw === null || raw === undefined ? NaN : Number(raw);
  return Number.isInteger(id) && id > 0 ? id : null;
}

/** The URL for the same page in another community. */
export function switchedUrl(pathname: string, search: URLSearchParams, id: number): string {
  if (/^\/cer\/\d+(\/|$)/.test(pathname)) return pathname.replace(/^\/cer\/\d+/, `/cer/${id}`);
  const next = new URLSearchParams(search);
  next.set("cer", String(id));
  return `${pathname}?${next.toString()}`;
}

/** The chosen community: the URL's if the caller sees it, else their first. */
export function useChosenCommunity() {
  const communities = useCommunities();
  const location = useLocation();
  const [search] = useSearchParams();
  const wanted = communityInUrl(location.pathname, search);
  const list = communities.data ?? [];
  const community = (wanted !== null ? list.find((c) => c.id === wanted) : undefined) ?? (wanted === null ? list[0] : undefined);
  return { communities, community, wanted, list };
}

/** The header's switcher: shown only to a person with more than one community. */
export function CommunitySwitcher() {
  const { t } = useTranslation();
  const { list, community } = useChosenCommunity();
  const location = useLocation();
  const [search] = useSearchParams();
  const navigate = useNavigate();
  if (list.length < 2) return null;
  return (
    <NativeSelect
      aria-label={t("choice.community")}
      size="xs"
      maw={220}
      value={community ? String(community.id) : ""}
      onChange={(e) => void navigate(switchedUrl(location.pathname, search, Number(e.currentTarget.value)))}
      data={[
        ...(community ? [] : [{ value: "", label: t("choice.none") }]),
        ...list.map((c) => ({ value: String(c.id), label: c.name })),
      ]}
    />
  );
}

/** `?cer=` for links to one's own pages, so the choice follows the person. */
export function useChoiceQuery(): string {
  const { community, list } = useChosenCommunity();
  return community && list.length > 1 ? `?cer=${community.id}` : "";
}
