// Queries shared by several pages.
import { useQuery } from "@tanstack/react-query";
import { cerApi, unwrap, userApi } from "./client";

export function useMe() {
  return useQuery({ queryKey: ["me"], queryFn: () => unwrap(userApi.GET("/api/users/me/")) });
}

export function useCommunities() {
  return useQuery({ queryKey: ["communities"], queryFn: () => unwrap(cerApi.GET("/api/cer/")) });
}

export function useCommunity(id: number) {
  return useQuery({
    queryKey: ["community", id],
    queryFn: () => unwrap(cerApi.GET("/api/cer/{cer_id}/", { params: { path: { cer_id: id } } })),
  });
}

/** Whether the signed-in person manages this community (its ADMIN) or is a platform admin. */
export function isManager(role: string | null | undefined, userType: string | undefined): boolean {
  return role === "ADMIN" || userType === "ADMIN";
}
