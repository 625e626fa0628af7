// What the money pages need beyond the typed clients: files both ways (a
// multipart upload and an authenticated download) and the reconciliation's
// shape (the service answers it as a dict).
import { ApiError, type EnvelopeError } from "../api/client";
import { session } from "../api/session";
import { dispositionName } from "./logic";

async function authorization(): Promise<Record<string, string>> {
  const token = await session.accessToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** POST a multipart form to the gateway; the envelope's data or an ApiError. */
export async function uploadForm<T>(path: string, fields: Record<string, string | File>): Promise<T> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  const response = await fetch(path, { method: "POST", body: form, headers: await authorization() });
  const body = (await response.json().catch(() => ({}))) as { data?: T; errors?: EnvelopeError[] };
  if (!response.ok || body.data === undefined) {
    throw new ApiError(
      response.status,
      body.errors?.length ? body.errors : [{ code: `http_${response.status}`, message: response.statusText || `HTTP ${response.status}` }],
    );
  }
  return body.data;
}

/** Fetch a file with the session's token and hand it to the browser as a download
 * (a link to the API would carry no token: the files are not public). */
export async function download(path: string, fallbackName: string): Promise<void> {
  const response = await fetch(path, { headers: await authorization() });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { errors?: EnvelopeError[] };
    throw new ApiError(response.status, body.errors?.length ? body.errors : [{ code: `http_${response.status}`, message: response.statusText }]);
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = dispositionName(response.headers.get("Content-Disposition"), fallbackName);
  document.body.append(link);
  link.click();
  link.remove();
  // The click has handed the blob to the download; free it after this task.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

export interface Compared {
  platform: string | null;
  gse: string | null;
  difference: string;
}

export interface Reconciliation {
  community_id: number;
  period: string;
  figures: {
    status: "MATCHED" | "MISMATCH" | "INCOMPLETE";
    missing?: string[];
    run_id: number | null;
    run_kind: string | null;
    gse_result_id: string | null;
    gse_revision: number | null;
    gse_source: string | null;
    tolerance_cents: number;
    difference_cents: number | null;
    parameters?: { platform_trase_eur_mwh: string | null; gse_trase_eur_mwh: string | null };
    totals: Record<string, Compared>;
    substations: ({ code: string } & Record<string, Compared | string>)[];
    pods: {
      pod: string;
      gse_status: string;
      difference_cents: number;
      energy_differs: boolean;
      cause: string | null;
    }[];
    causes: { cause: string; pod: string | null; difference_cents: number }[];
  };
  payments: {
    expected_advance_cents: number;
    gse_advance_cents: number;
    advance_due_on: string;
    advance_paid_cents: number;
    advance_vs_final: { final_cents: number | null; true_up_cents: number | null; true_up_due_on: string };
    receivable_balance_cents: number;
  };
}
