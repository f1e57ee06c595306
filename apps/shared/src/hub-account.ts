// A hub account kept on this device, for the hub's web apps (the customer app,
// the merchant dashboard): access and refresh tokens in localStorage under the
// app's own key, so a reload or a new tab stays signed in; the typed client
// sending the access token; one refresh-and-retry when the 15-minute access
// token has run out; and writes that keep one Idempotency-Key across that retry.
import { type HubSchemas, createHubApi, hubResult, idempotencyKey } from "./hub-api";

export type TokenPair = HubSchemas["TokenPair"];

export interface Account {
  access: string;
  refresh: string;
  email: string;
}

type Outcome<T> = { data?: T; error?: unknown; response: Response };

/** The account kept under `storageKey` and the calls made with it. */
export function hubAccount(storageKey: string) {
  let account: Account | null = read();
  const listeners = new Set<() => void>();

  function read(): Account | null {
    try {
      const a = JSON.parse(localStorage.getItem(storageKey) ?? "null") as Account | null;
      return a?.access && a.refresh ? a : null;
    } catch {
      return null;
    }
  }

  function setAccount(a: Account | null) {
    account = a;
    if (a) localStorage.setItem(storageKey, JSON.stringify(a));
    else localStorage.removeItem(storageKey);
    for (const l of listeners) l();
  }

  const api = createHubApi({ getToken: () => account?.access ?? null });

  /** Trades the refresh token for a new pair; false (and signed out) when it is no longer good. */
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

  /** A hub call's data, or a HubError; a signed-in call that answers 401 is retried once after a refresh. */
  async function hub<T>(make: () => Promise<Outcome<T>>): Promise<T> {
    let r = await hubResult(make());
    if (!r.ok && r.error.status === 401 && account && (await refresh())) r = await hubResult(make());
    if (!r.ok) throw r.error;
    return r.data;
  }

  return {
    api,
    hub,
    setAccount,
    currentAccount: (): Account | null => account,
    onAccountChange(l: () => void): () => void {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    /**
     * A write: one Idempotency-Key for the action, kept across the refresh-and-retry,
     * so the hub never does it twice.
     */
    write<T>(make: (headers: { "Idempotency-Key": string }) => Promise<Outcome<T>>): Promise<T> {
      const headers = idempotencyKey();
      return hub(() => make(headers));
    },
    /** Keeps the account signed in (or up) with `pair` on this device. */
    keepSession(email: string, pair: TokenPair) {
      setAccount({ access: pair.access_token, refresh: pair.refresh_token, email });
    },
    async signOut() {
      const a = account;
      setAccount(null);
      if (a) await hubResult(api.POST("/api/v1/auth/logout", { body: { refresh_token: a.refresh } }));
    },
  };
}
