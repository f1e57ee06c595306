// Find a store: every store that takes online orders, with whether it does right now.
import { Link } from "./App";
import { Problem } from "./Problem";
import { api, hub } from "./hub";
import { useLoad } from "./load";
import { orderingWords } from "./words";

export function StoreList() {
  const { data, error, retry } = useLoad(() => hub(() => api.GET("/api/v1/public/stores")), []);
  const stores = data?.stores;
  return (
    <main className="page">
      <h1>Find a store</h1>
      <Problem error={error} onRetry={retry} />
      {!stores && !error && <p aria-live="polite">Loading stores…</p>}
      {stores?.length === 0 && <p>No store takes online orders yet.</p>}
      <ul className="stores">
        {stores?.map((s) => (
          <li key={s.id}>
            <Link to={`/stores/${encodeURIComponent(s.id)}`} className="store-card">
              <strong>{s.name ?? s.id}</strong>
              {s.address && <span className="muted">{s.address}</span>}
              <span className={s.ordering.accepting ? "state state-open" : "state state-closed"} data-testid="store-state">
                {orderingWords(s.ordering)}
              </span>
            </Link>
          </li>
        ))}
      </ul>
    </main>
  );
}
