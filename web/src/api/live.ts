// The energy service's live stream (Server-Sent Events). EventSource cannot
// send the Authorization header, so the stream is read with fetch.

export interface LiveQuantities {
  produced_kwh: number;
  consumed_kwh: number;
  fed_in_kwh: number;
  withdrawn_kwh: number;
  self_consumption_kwh: number;
  shared_kwh: number;
}

export interface LivePeriod extends LiveQuantities {
  substations: (LiveQuantities & { primary_substation: string })[];
}

export interface LiveSnapshot {
  community_id: number;
  version: number;
  at: string;
  day: string;
  hour: LivePeriod & { start: string; end: string };
  today: LivePeriod;
}

/** Splits a text/event-stream into events; returns the unfinished rest. */
export function parseEvents(buffer: string): { events: { event: string; data: string }[]; rest: string } {
  const events: { event: string; data: string }[] = [];
  const blocks = buffer.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}

/** Reads the stream until aborted, calling onSnapshot for each `live` event. */
export async function streamLive(
  communityId: number,
  token: string,
  onSnapshot: (snapshot: LiveSnapshot) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(`/api/energy/live/?community_id=${communityId}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const parsed = parseEvents(buffer + value);
    buffer = parsed.rest;
    for (const e of parsed.events) if (e.event === "live") onSnapshot(JSON.parse(e.data) as LiveSnapshot);
  }
}
