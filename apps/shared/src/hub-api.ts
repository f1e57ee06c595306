// The typed cloud-hub API client, for the web apps that talk to the hub (online
// ordering, the merchant dashboard). Types come from the committed
// cloud-hub/openapi.json (hub-schema.d.ts is generated: `npm run gen:api`, and
// `npm run check:api` fails when it is stale); calls go through openapi-fetch.
// A failed call gives the hub's `{"error":{"code","message"}}` body as a typed
// HubError, with the hub's own code and sentence: the apps that come next decide
// how to word them for people.
//
// Apart from the node's client (./api) on purpose: another server, other tokens
// (the hub's access tokens, not node sessions) and other error codes. Import it
// as `@edge/shared/hub-api`; the store apps never load it.
import createClient from "openapi-fetch";
import type { components, paths } from "./hub-schema";

export type HubPaths = paths;
export type HubSchemas = components["schemas"];
/** What the hub answers on every failure: `{"error":{"code","message"}}`. */
export type HubErrorBody = HubSchemas["ErrorBody"];

/**
 * A failed hub call: the HTTP status and the hub's stable `code` and `message`.
 * Status 0 and code `network` when the hub was not reached (or answered with
 * something that is not JSON); `http_<status>` when an error had no error body.
 */
export class HubError extends Error {
  override readonly name = "HubError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** The failure as the hub's error body, e.g. to log or to hand on unchanged. */
  toBody(): HubErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Reads a failed call's body, which should be `{"error":{"code","message"}}`. */
export function toHubError(status: number, body: unknown): HubError {
  const e = (body as Partial<HubErrorBody> | undefined)?.error;
  const code = typeof e?.code === "string" ? e.code : `http_${status}`;
  const message = typeof e?.message === "string" ? e.message : `The hub answered ${status}.`;
  return new HubError(status, code, message);
}

export interface HubApiOptions {
  /** Where the hub is, e.g. `https://hub.example`; "" for the page's own origin. */
  baseUrl?: string;
  /** The account's access token, or null when signed out; asked before every request. */
  getToken?: () => string | null;
  /** A fetch of your own (tests, server-side rendering). */
  fetch?: typeof globalThis.fetch;
}

/** A client for every path of the hub's OpenAPI document: `api.GET("/api/v1/me")` and so on. */
export function createHubApi({ baseUrl = "", getToken = () => null, fetch }: HubApiOptions = {}) {
  const client = createClient<paths>({ baseUrl, ...(fetch ? { fetch } : {}) });
  client.use({
    onRequest({ request }) {
      const token = getToken();
      if (token && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  });
  return client;
}

export type HubApi = ReturnType<typeof createHubApi>;

/** What an openapi-fetch call resolves to, as far as these helpers need. */
type Outcome<T> = { data?: T; error?: unknown; response: Response };

/** A hub call's data, or the hub's error: for code that branches on `code` rather than catching. */
export type HubResult<T> = { ok: true; status: number; data: T } | { ok: false; error: HubError };

/** Awaits an openapi-fetch call; never throws (a network failure is the error `network`). */
export async function hubResult<T>(p: Promise<Outcome<T>>): Promise<HubResult<T>> {
  let r: Outcome<T>;
  try {
    r = await p;
  } catch (e) {
    return { ok: false, error: new HubError(0, "network", `Can't reach the hub: ${String(e)}`) };
  }
  if (!r.response.ok) return { ok: false, error: toHubError(r.response.status, r.error) };
  return { ok: true, status: r.response.status, data: r.data as T };
}

/** Awaits an openapi-fetch call and returns its data, or throws a HubError. */
export async function hubCall<T>(p: Promise<Outcome<T>>): Promise<T> {
  const r = await hubResult(p);
  if (!r.ok) throw r.error;
  return r.data;
}

/**
 * The `Idempotency-Key` header every hub write takes (optional in the document):
 * `api.POST(path, { body, headers: idempotencyKey(key) })`. Keep the key when
 * retrying the same action, so the hub answers the retry without doing it twice.
 */
export function idempotencyKey(key: string = crypto.randomUUID()): { "Idempotency-Key": string } {
  return { "Idempotency-Key": key };
}
