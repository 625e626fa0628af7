import { useParams } from "react-router";
import { isManager, useCommunity, useMe } from "../api/hooks";
import { ErrorState, Loading, NotFound } from "../components/States";
import "./strings";

/** A money page of /cer/:id/...: only for the community's managers; another
 * community's id is "not found" (the API answers 404, and so does the page). */
export function CommunityGuard({ children }: { children: (communityId: number) => React.ReactNode }) {
  const { id } = useParams();
  const communityId = Number(id);
  const valid = Number.isInteger(communityId) && communityId > 0;
  const community = useCommunity(valid ? communityId : 0);
  const me = useMe();
  if (!valid) return <NotFound />;
  if (community.isPending || me.isPending) return <Loading />;
  if (community.isError) return <ErrorState error={community.error} />;
  if (!isManager(community.data.my_role, me.data?.user_type)) return <NotFound />;
  return <>{children(communityId)}</>;
}
