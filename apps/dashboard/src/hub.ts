// The dashboard's link to the hub: the typed client, the account kept on this
// device (access and refresh tokens in localStorage, as the customer app keeps
// them, under another key), one refresh-and-retry when the access token has run
// out, and an Idempotency-Key on every write.
import { HubError, type HubSchemas, createHubApi, hubResult, idempotencyKey } from "@edge/shared/hub-api";

export type TokenPair = HubSchemas["TokenPair"];
export type Menu = HubSchemas["Menu"];
export type Item = HubSchemas["Item"];
export type Member = HubSchemas["Member"];
export type StoreNodes = HubSchemas["StoreNodes"];

export interface Account {
  access: string;
  refresh: string;
  email: string;
}

const KEY = "edge.dashboard.account";
let account: Account | null = read();
const listeners = new Set<() => void>();

function read(): Account | null {
  try {
    const a = JSON.parse(localStorage.getItem(KEY) ?? "null") as Account | null;
    return a?.access && a.refresh ? a : null;
  } catch {
    return null;
  }
}

export function currentAccount(): Account | null {
  return account;
}

export function setAccount(a: Account | null) {
  account = a;
  if (a) localStorage.setItem(KEY, JSON.stringify(a));
  else localStorage.removeItem(KEY);
  for (const l of listeners) l();
}

export function onAccountChange(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export const api = createHubApi({ getToken: () => account?.access ?? null });

async function refresh(): Promise<boolean> {
  const a = account;
  if (!a) return false;
  const r = await hubResult(api.POST("/api/v1/auth/refresh", { body: { refresh_token: a.refresh } }));
  if (r.ok) {
    setAccount({ ...a, access: r.data.access_token, refresh: r.data.refresh_token });
    return true;
  }
  if (r.error.status === 401 || r.error.status === 403) setAccount(null);
  return false;
}

type Outcome<T> = { data?: T; error?: unknown; response: Response };

/** A hub call's data, or a HubError; a call that answers 401 is retried once after a refresh. */
export async function hub<T>(make: () => Promise<Outcome<T>>): Promise<T> {
  let r = await hubResult(make());
  if (!r.ok && r.error.status === 401 && account && (await refresh())) r = await hubResult(make());
  if (!r.ok) throw r.error;
  return r.data;
}

/**
 * A write: one Idempotency-Key for the action, kept across the refresh-and-retry,
 * so the hub never does it twice.
 */
export function write<T>(make: (headers: { "Idempotency-Key": string }) => Promise<Outcome<T>>): Promise<T> {
  const headers = idempotencyKey();
  return hub(() => make(headers));
}

export function keepSession(email: string, pair: TokenPair) {
  setAccount({ access: pair.access_token, refresh: pair.refresh_token, email });
}

export async function signOut() {
  const a = account;
  setAccount(null);
  if (a) await hubResult(api.POST("/api/v1/auth/logout", { body: { refresh_token: a.refresh } }));
}

export { HubError };
