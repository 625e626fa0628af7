import { describe, expect, it } from "vitest";
import { parseEvents } from "./live";

describe("parseEvents", () => {
  it("splits named events, skips keepalive comments and keeps the unfinished rest", () => {
    const { events, rest } = parseEvents(': keepalive\n\nevent: live\nid: 3\ndata: {"version":3}\n\nevent: li');
    expect(events).toEqual([{ event: "live", data: '{"version":3}' }]);
    expect(rest).toBe("event: li");
  });
  it("joins multi-line data and accepts CRLF", () => {
    const { events } = parseEvents("data: a\r\ndata: b\r\n\r\n");
    expect(events).toEqual([{ event: "message", data: "a\nb" }]);
  });
});
