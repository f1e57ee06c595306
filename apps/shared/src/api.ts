// The typed store-node API client. Types come from the committed OpenAPI
// document (schema.d.ts is generated: `npm run gen:api`), calls go through
// openapi-fetch, and every failure becomes an ApiError with a sentence a
// person understands.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Menu = Schemas["Menu"];
export type MenuView = Schemas["MenuView"];
export type Item = Schemas["Item"];
export type ModifierGroup = Schemas["ModifierGroup"];
export type Modifier = Schemas["Modifier"];
export type LineRequest = Schemas["LineRequest"];
export type OrderDraft = Schemas["OrderDraft"];
export type OrderView = Schemas["OrderView"];
export type OrderStatus = Schemas["OrderStatus"];
export type PricedLine = Schemas["PricedLine"];
export type PaymentResult = Schemas["PaymentResult"];
export type PricedOrder = Schemas["PricedOrder"];
export type StaffView = Schemas["StaffView"];
export type Role = Schemas["Role"];
export type PaymentView = Schemas["PaymentView"];
export type DeviceView = Schemas["DeviceView"];
export type DeviceKind = Schemas["DeviceKind"];
export type Health = Schemas["Health"];
export type HealthState = Schemas["HealthState"];
export type PrintJob = Schemas["PrintJob"];
export type JobState = Schemas["JobState"];

export type Api = ReturnType<typeof createApi>;

/** An API or network failure, with a stable `code` and a `message` for people. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    /** The server's own words, before we made them friendlier. */
    public serverMessage = message,
  ) {
    super(message);
  }
}

/** What to tell a person for a given error code (the server's own sentence otherwise). */
const FRIENDLY: Record<string, string> = {
  network: "Can't reach the store server. Check the network; nothing was lost, try again in a moment.",
  unauthenticated: "You are signed out. Please sign in again.",
  session_expired: "Your session has expired. Please sign in again.",
  invalid_credentials: "That PIN is not right. Try again.",
  too_many_attempts: "Too many wrong PINs. Wait a minute, or ask a manager.",
  forbidden: "You are not allowed to do that. Ask a manager.",

  request_in_flight: "Still sending the previous request. Wait a second and try again.",
  insufficient_tender: "The cash given is less than the amount due.",
  already_paid: "This order is already paid.",
  invalid_transition: "That step is not possible for this order any more (someone else may have moved it).",
  order_closed: "This order is already closed: there is nothing to pay.",

  // Card payments: declined and cancelled are everyday outcomes, not faults.
  card_declined: "The card was declined. Ask for another card, or take cash.",
  payment_cancelled: "The payment was cancelled at the terminal. Nothing was charged.",
  terminal_busy: "The card terminal is busy with another payment. Wait for it to finish, then try again.",
  terminal_timeout: "The terminal did not finish in time, so the payment was stopped. Nothing was charged.",
  terminal_unreachable: "Can't reach the card terminal. Check that it is on and its cable or network, then try again.",
  terminal_error: "The card terminal gave an answer we cannot read. Check the terminal, then try again.",
  no_card_terminal: "No card terminal is set up at this store. Please take cash.",

  // Printing.
  no_receipt_printer: "No receipt printer is set up at this store, so nothing was printed.",
  unknown_printer: "That printer is not available any more (removed, or not a printer). Pick another one.",
  job_queued: "That job is still waiting to print: it prints as soon as its printer answers.",

  internal: "Something went wrong on the store server. Nothing was saved; please try again.",
};

/** The server's own sentence where it names the thing (which item sold out); ours for the rest. */
const SERVER_SAYS_IT_BEST: Record<string, string> = {
  sold_out: "Sorry, that just sold out",
  unknown_item: "That item is no longer on the menu",
  invalid_modifiers: "Some choices are missing or too many",
};

export function friendlyMessage(code: string, fallback: string): string {
  const lead = SERVER_SAYS_IT_BEST[code];
  if (lead) return `${lead}: ${fallback}`;
  return FRIENDLY[code] ?? fallback;
}

/** Reads the `{"error":{"code","message"}}` body of a failed call. */
function toApiError(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const code = e?.code ?? `http_${status}`;
  const server = e?.message ?? `The store server answered ${status}.`;
  return new ApiError(status, code, friendlyMessage(code, server), server);
}

export function createApi(getToken: () => string | null, baseUrl = "") {
  const client = createClient<paths>({ baseUrl });
  client.use({
    onRequest({ request }) {
      const token = getToken();
      if (token && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  });
  return client;
}

/**
 * Awaits an openapi-fetch call and returns its data, or throws an ApiError
 * (network failures included, as code `network`).
 */
export async function call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r: { data?: T; error?: unknown; response: Response };
  try {
    r = await p;
  } catch (e) {
    throw new ApiError(0, "network", friendlyMessage("network", String(e)));
  }
  if (!r.response.ok) throw toApiError(r.response.status, r.error);
  return r.data as T;
}

/** A fresh Idempotency-Key: reuse the same one when retrying the same action. */
export function newKey(): string {
  return crypto.randomUUID();
}

export function describe(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  return friendlyMessage("network", String(e));
}
