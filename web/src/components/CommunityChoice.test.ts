import { describe, expect, it } from "vitest";
import { communityInUrl, switchedUrl } from "./CommunityChoice";
import { lastMonths } from "../pages/StatementsPage";

describe("the community chosen in the URL", () => {
  it("is the path's on a community page, the query's elsewhere", () => {
    expect(communityInUrl("/cer/7/members", new URLSearchParams("cer=9"))).toBe(7);
    expect(communityInUrl("/cer/7", new URLSearchParams())).toBe(7);
    expect(communityInUrl("/me/statements", new URLSearchParams("cer=9"))).toBe(9);
    expect(communityInUrl("/me", new URLSearchParams())).toBeNull();
  });

  it("ignores what is not a community id", () => {
    expect(communityInUrl("/me", new URLSearchParams("cer=abc"))).toBeNull();
    expect(communityInUrl("/me", new URLSearchParams("cer=0"))).toBeNull();
    expect(communityInUrl("/me", new URLSearchParams("cer=-3"))).toBeNull();
    expect(communityInUrl("/cer/12abc", new URLSearchParams())).toBeNull();
  });

  it("switching keeps the page: the path's id on a community page, ?cer= elsewhere", () => {
    expect(switchedUrl("/cer/7/settlements", new URLSearchParams(), 9)).toBe("/cer/9/settlements");
    expect(switchedUrl("/cer/7", new URLSearchParams(), 9)).toBe("/cer/9");
    expect(switchedUrl("/me/statements", new URLSearchParams("cer=7&x=1"), 9)).toBe("/me/statements?cer=9&x=1");
    expect(switchedUrl("/me", new URLSearchParams(), 9)).toBe("/me?cer=9");
  });
});

describe("the statement months", () => {
  it("are the twelve months before this one, newest first, across the year", () => {
    const months = lastMonths("2026-02-15");
    expect(months).toHaveLength(12);
    expect(months[0]).toBe("2026-01");
    expect(months[1]).toBe("2025-12");
    expect(months[11]).toBe("2025-02");
  });
});
