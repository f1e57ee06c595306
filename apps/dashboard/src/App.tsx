// The merchant dashboard: sign in with a hub account, pick an organisation's
// store (from the account's memberships; an organisation-wide one lists the
// organisation's stores), then its pages. Laptop first; one column on a phone.
// Paths: /dashboard/ (sign in), /dashboard/stores/{id}/{page}; after sign-in it
// opens on the overview of the organisation of the store chosen last (or the first).
// The sales page (and its charting library) loads when first opened.
import { type FormEvent, Suspense, lazy, useCallback, useEffect, useState } from "react";
import { Devices } from "./Devices";
import { api, currentAccount, hub, keepSession, onAccountChange, signOut } from "./hub";
import { MenuPage } from "./MenuPage";
import { Orders } from "./Orders";
import { Overview } from "./Overview";
import { People } from "./People";
import { SettingsPage } from "./SettingsPage";
import { words } from "./words";
import { Said } from "./said";

const Sales = lazy(() => import("./Sales").then((m) => ({ default: m.Sales })));

const BASE = "/dashboard";

export interface StoreChoice {
  id: string;
  name: string;
  orgId: string;
  orgName: string;
  role: string;
  /** The membership covers the whole organisation (may manage its people). */
  orgWide: boolean;
}

interface Me {
  id: string;
  email: string;
  name: string;
  kind: string;
  memberships: { org_id: string; org_name: string; store_id: string | null; role: string }[];
}

export const PAGES = [
  { id: "overview", title: "Overview" },
  { id: "orders", title: "Live orders" },
  { id: "menu", title: "Menu" },
  { id: "sales", title: "Sales" },
  { id: "settings", title: "Settings" },
  { id: "people", title: "People" },
  { id: "devices", title: "Devices" },
] as const;
export type PageId = (typeof PAGES)[number]["id"];

/**
 * The pages offered to a role. Managing accounts is an owner's (the hub refuses
 * managers; opened by its address, the page shows that refusal).
 */
function offered(store: StoreChoice) {
  return PAGES.filter((p) => p.id !== "people" || store.role === "owner");
}

/** The store chosen last on this device, to open on after sign-in. */
const LAST_STORE = "edge.dashboard.store";

/** The roles that manage a store here; cashiers and kitchen staff use the tills. */
const MANAGING = new Set(["owner", "manager"]);

function parsePath(): { store: string | null; page: PageId } {
  const m = /^\/dashboard\/stores\/([^/]+)(?:\/([a-z]+))?/.exec(location.pathname);
  const page = PAGES.find((p) => p.id === m?.[2])?.id ?? "overview";
  return { store: m ? decodeURIComponent(m[1]) : null, page };
}

export function go(path: string) {
  history.pushState(null, "", `${BASE}${path}`);
  dispatchEvent(new PopStateEvent("popstate"));
}

function useRoute() {
  const [route, setRoute] = useState(parsePath);
  useEffect(() => {
    const on = () => setRoute(parsePath());
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  return route;
}

export function App() {
  const [account, setAcc] = useState(currentAccount);
  useEffect(() => onAccountChange(() => setAcc(currentAccount())), []);
  if (!account) return <SignIn />;
  return <Signed email={account.email} />;
}

function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const pair = await hub(() => api.POST("/api/v1/auth/login", { body: { email: email.trim(), password } }));
      keepSession(email.trim(), pair);
    } catch (err) {
      setError(words(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main className="signin">
      <h1>Store dashboard</h1>
      <p className="muted">Sign in with your account to manage your stores.</p>
      <form onSubmit={submit} className="stack">
        <label>
          Email
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <Said error={error} />
        <button className="primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function Signed({ email }: { email: string }) {
  const route = useRoute();
  const [stores, setStores] = useState<StoreChoice[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    setError(null);
    try {
      const me = (await hub(() => api.GET("/api/v1/auth/me"))) as unknown as Me;
      const found = new Map<string, StoreChoice>();
      for (const m of me.memberships ?? []) {
        if (!MANAGING.has(m.role)) continue;
        if (m.store_id) {
          if (!found.has(m.store_id))
            found.set(m.store_id, { id: m.store_id, name: m.store_id, orgId: m.org_id, orgName: m.org_name, role: m.role, orgWide: false });
          continue;
        }
        const list = await hub(() => api.GET("/api/v1/orgs/{org_id}/stores", { params: { path: { org_id: m.org_id } } }));
        for (const s of list.stores) found.set(s.id, { id: s.id, name: s.name, orgId: m.org_id, orgName: m.org_name, role: m.role, orgWide: true });
      }
      // A store's own membership names only its id: its name is the store's public one.
      await Promise.all(
        [...found.values()]
          .filter((s) => s.name === s.id)
          .map(async (s) => {
            const pub = await hub(() => api.GET("/api/v1/public/stores/{id}", { params: { path: { id: s.id } } })).catch(() => null);
            if (pub?.name) s.name = pub.name;
          }),
      );
      setStores([...found.values()].sort((a, b) => a.orgName.localeCompare(b.orgName) || a.name.localeCompare(b.name)));
    } catch (e) {
      setError(words(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const store = stores?.find((s) => s.id === route.store) ?? null;
  useEffect(() => {
    // Straight to the overview of the store chosen last, or of the first.
    if (!stores?.length || route.store) return;
    const last = localStorage.getItem(LAST_STORE);
    const start = stores.find((s) => s.id === last) ?? stores[0];
    go(`/stores/${encodeURIComponent(start.id)}/overview`);
  }, [stores, route.store]);
  useEffect(() => {
    if (store) localStorage.setItem(LAST_STORE, store.id);
  }, [store]);

  const page = PAGES.find((p) => p.id === route.page)!;
  useEffect(() => {
    document.title = store ? `${page.title} — ${page.id === "overview" ? store.orgName : store.name}` : "Store dashboard";
  }, [store, page]);

  return (
    <div className="shell">
      <header className="topbar">
        <strong className="brand">Store dashboard</strong>
        {stores && stores.length > 0 && (
          <label className="switcher">
            <span>Store</span>
            <select
              value={store?.id ?? ""}
              onChange={(e) => go(`/stores/${encodeURIComponent(e.target.value)}/${route.page}`)}
            >
              {!store && <option value="">Choose a store</option>}
              {groupByOrg(stores).map(([org, list]) => (
                <optgroup key={org} label={org}>
                  {list.map((s) => (
                    <option key={s.id} value={s.id}>
                      {s.name}
                    </option>
                  ))}
                </optgroup>
              ))}
            </select>
          </label>
        )}
        <span className="account">
          <span className="muted">{email}</span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </span>
      </header>
      {store && (
        <nav className="pages" aria-label="Store pages">
          {offered(store).map((p) => (
            <a
              key={p.id}
              href={`${BASE}/stores/${encodeURIComponent(store.id)}/${p.id}`}
              aria-current={p.id === route.page ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                go(`/stores/${encodeURIComponent(store.id)}/${p.id}`);
              }}
            >
              {p.title}
            </a>
          ))}
        </nav>
      )}
      <main className="page">
        {error ? (
          <div className="problem" role="alert">
            <p>{error}</p>
            <button type="button" onClick={() => void load()}>
              Try again
            </button>
          </div>
        ) : !stores ? (
          <p aria-live="polite">Loading your stores…</p>
        ) : stores.length === 0 ? (
          <section>
            <h1>No stores to manage</h1>
            <p className="problem" role="alert">
              This account has no stores to manage. The dashboard is for owners and managers of a store; ask an owner of
              your organisation to give you a manager's role, or sign in with another account.
            </p>
          </section>
        ) : !store ? (
          <section>
            <h1>Choose a store</h1>
            <ul className="store-list">
              {stores.map((s) => (
                <li key={s.id}>
                  <a
                    href={`${BASE}/stores/${encodeURIComponent(s.id)}/overview`}
                    onClick={(e) => {
                      e.preventDefault();
                      go(`/stores/${encodeURIComponent(s.id)}/overview`);
                    }}
                  >
                    <strong>{s.name}</strong> <span className="muted">{s.orgName}</span>
                  </a>
                </li>
              ))}
            </ul>
          </section>
        ) : (
          <StorePage key={`${store.id}/${route.page}`} store={store} page={route.page} />
        )}
      </main>
    </div>
  );
}

function groupByOrg(stores: StoreChoice[]): [string, StoreChoice[]][] {
  const m = new Map<string, StoreChoice[]>();
  for (const s of stores) m.set(s.orgName, [...(m.get(s.orgName) ?? []), s]);
  return [...m.entries()];
}

function StorePage({ store, page }: { store: StoreChoice; page: PageId }) {
  switch (page) {
    case "overview":
      return <Overview store={store} />;
    case "sales":
      return (
        <Suspense fallback={<p aria-live="polite">Loading the sales report…</p>}>
          <Sales store={store} />
        </Suspense>
      );
    case "orders":
      return <Orders store={store} />;
    case "menu":
      return <MenuPage store={store} />;
    case "settings":
      return <SettingsPage store={store} />;
    case "people":
      return <People store={store} />;
    case "devices":
      return <Devices store={store} />;
  }
}
