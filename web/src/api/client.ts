// One typed client per service, all on the gateway's origin. The types come
// from each service's OpenAPI document (src/api/generated, written at build
// time), so a path or field that changes in a service fails `tsc` here.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths as CerPaths } from "./generated/cer";
import type { paths as EconomicPaths } from "./generated/economic";
import type { paths as EnergyPaths } from "./generated/energy";
import type { paths as IotPaths } from "./generated/iot";
import type { paths as NotificationPaths } from "./generated/notification";
import type { paths as ReportingPaths } from "./generated/reporting";
import type { paths as UserPaths } from "./generated/user";
import { session } from "./session";

export interface EnvelopeError {
  code: string;
  message: string;
  field?: string | null;
  expected?: string | null;
}

/** An answer with success=false: its status and the envelope's errors. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: EnvelopeError[],
  ) {
    super(errors.map((e) => e.message).join("; ") || `HTTP ${status}`);
  }

  /** The first error that names this field (forms show it next to the field). */
  forField(field: string): EnvelopeError | undefined {
    return this.errors.find((e) => e.field === field || e.field?.endsWith(`.${field}`));
  }

  /** Errors that name no field of the form: shown above it. */
  general(fields: readonly string[]): EnvelopeError[] {
    return this.errors.filter((e) => !e.field || !fields.some((f) => e.field === f || e.field?.endsWith(`.${f}`)));
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}

const auth: Middleware = {
  async onRequest({ request }) {
    const token = await session.accessToken();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  async onResponse({ response }) {
    if (response.status === 401 && session.isSignedIn()) {
      // The access token expired while the page was open: one refresh, and
      // the next query uses the new token; a spent refresh signs out.
      await session.refresh();
    }
    return response;
  },
};

function client<P extends {}>() {
  const c = createClient<P>({ baseUrl: globalThis.location?.origin ?? "http://localhost" });
  c.use(auth);
  return c;
}

export const userApi = client<UserPaths>();
export const cerApi = client<CerPaths>();
export const iotApi = client<IotPaths>();
export const energyApi = client<EnergyPaths>();
export const economicApi = client<EconomicPaths>();
export const notificationApi = client<NotificationPaths>();
export const reportingApi = client<ReportingPaths>();

interface Envelope<T> {
  success?: boolean;
  data?: T | null;
  meta?: unknown;
  errors?: EnvelopeError[] | null;
}

/** The data of a successful envelope, or an ApiError with the envelope's errors.
 * (An endpoint answering `data: null` resolves to null; its callers ignore it.) */
export async function unwrap<T>(
  call: Promise<{ data?: Envelope<T>; error?: unknown; response: Response }>,
): Promise<NonNullable<T>> {
  const { data, error, response } = await call;
  if (!response.ok || !data) {
    const body = (error ?? {}) as Envelope<unknown> & { detail?: unknown };
    const errors = body.errors?.length
      ? body.errors
      : [{ code: `http_${response.status}`, message: response.statusText || `HTTP ${response.status}` }];
    throw new ApiError(response.status, errors);
  }
  return data.data as NonNullable<T>;
}

/** A file from the API (a statement, an export) saved by the browser under its name.
 * Fetched with the bearer token (a plain link would carry none), then handed to
 * the browser as a blob: the page's CSP allows no inline script, and needs none. */
export async function downloadFile(path: string, fallbackName: string): Promise<void> {
  const token = await session.accessToken();
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as Envelope<unknown>;
    throw new ApiError(response.status, body.errors?.length ? body.errors : [{ code: `http_${response.status}`, message: `HTTP ${response.status}` }]);
  }
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "");
  saveBlob(await response.blob(), named?.[1] ?? fallbackName);
}

/** Hands a blob to the browser as a download. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
