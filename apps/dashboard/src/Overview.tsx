// Every store of the organisation at a glance, the page the dashboard opens on:
// whether each takes online orders and why not, its store server (online, or
// away since when, and changes waiting to sync), devices that need a person,
// today's orders, sales and average ticket, and the kitchen's backlog per
// station with what it does to online ordering. Read from the hub's overview
// (`GET /api/v1/orgs/{org_id}/overview`) and read again whenever the hub's
// merchant event socket says a store changed: live, without a reload.
import { formatMoney } from "@edge/shared";
import type { HubSchemas } from "@edge/shared/hub-api";
import { useCallback, useEffect, useRef, useState } from "react";
import { type StoreChoice, go } from "./App";
import { api, hub } from "./hub";
import { useOrgEvents } from "./live";
import { Problem } from "./said";
import { attentionWords, awayWords, clockWords, durationWords, kitchenEffect, orderingWords, stationName, timeWords, words } from "./words";

type OverviewData = HubSchemas["Overview"];
type StoreOverview = HubSchemas["StoreOverview"];

/** What a store's menu adds to its overview: its currency and its stations' names. */
interface MenuFacts {
  currency: string;
  stations: Record<string, string>;
}
const menuFacts = new Map<string, Promise<MenuFacts | null>>();

/** A store's currency and station names, read once per page load (null: no menu yet, asked again after a minute). */
function factsOf(storeId: string): Promise<MenuFacts | null> {
  let p = menuFacts.get(storeId);
  if (!p) {
    p = hub(() => api.GET("/api/v1/stores/{id}/menu", { params: { path: { id: storeId } } }))
      .then((v) => ({
        currency: v.menu.currency,
        stations: Object.fromEntries(v.menu.stations.map((s) => [s.id, s.name])),
      }))
      .catch(() => {
        // No menu yet (a store whose server never connected): ask again in a minute, not on every change.
        setTimeout(() => menuFacts.delete(storeId), 60_000);
        return null;
      });
    menuFacts.set(storeId, p);
  }
  return p;
}

export function Overview({ store }: { store: StoreChoice }) {
  const [data, setData] = useState<OverviewData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [facts, setFacts] = useState<Record<string, MenuFacts>>({});
  const [now, setNow] = useState(Date.now);
  // One read at a time; a change announced during a read asks for one more after it.
  const reading = useRef({ busy: false, again: false });

  const read = useCallback(async () => {
    const r = reading.current;
    if (r.busy) {
      r.again = true;
      return;
    }
    r.busy = true;
    try {
      do {
        r.again = false;
        try {
          const v = await hub(() => api.GET("/api/v1/orgs/{org_id}/overview", { params: { path: { org_id: store.orgId } } }));
          setData(v);
          setError(null);
          setNow(Date.now());
        } catch (e) {
          setError(words(e));
        }
      } while (r.again);
    } finally {
      r.busy = false;
    }
  }, [store.orgId]);

  const renew = useCallback(async () => {
    await read();
  }, [read]);
  const link = useOrgEvents(store.orgId, () => void read(), renew);
  // Read at once, not only when the socket opens (it may not).
  useEffect(() => {
    void read();
  }, [read]);

  // "away for 12 minutes" and the tickets' ages move on with the clock.
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, []);

  useEffect(() => {
    let alive = true;
    for (const s of data?.stores ?? []) {
      if (facts[s.store_id]) continue;
      void factsOf(s.store_id).then((f) => {
        if (alive && f) setFacts((old) => ({ ...old, [s.store_id]: f }));
      });
    }
    return () => {
      alive = false;
    };
  }, [data, facts]);

  if (error && !data) return <Problem text={error} retry={read} />;
  return (
    <section className="overview">
      <div className="page-head">
        <h1>Overview</h1>
        <p className="muted small" data-testid="live-status" data-status={link} aria-live="polite">
          {link === "live" ? "Live: changes show as they happen" : link === "connecting" ? "Connecting for live changes…" : "Reconnecting for live changes…"}
        </p>
      </div>
      {error && <p className="problem" role="alert">{error}</p>}
      {!data ? (
        <p aria-live="polite">Loading the overview…</p>
      ) : data.stores.length === 0 ? (
        <p>There are no stores in this organisation yet.</p>
      ) : (
        <>
          <Summary stores={data.stores} />
          <div className="overview-stores">
            {data.stores.map((s) => (
              <StoreCard key={s.store_id} s={s} facts={facts[s.store_id]} now={now} current={s.store_id === store.id} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}

function Summary({ stores }: { stores: StoreOverview[] }) {
  const taking = stores.filter((s) => s.ordering.accepting).length;
  const attention = stores.filter((s) => s.attention.length > 0 || !s.node.online).length;
  const n = stores.length;
  return (
    <p className="overview-summary">
      {n === 1 ? "1 store" : `${n} stores`}:{" "}
      {taking === n
        ? n === 1
          ? "taking online orders"
          : "all taking online orders"
        : taking === 0
          ? n === 1
            ? "not taking online orders"
            : "none taking online orders"
          : `${taking} of ${n} taking online orders`}
      {attention > 0 ? `; ${attention === 1 ? "1 needs" : `${attention} need`} attention.` : "; nothing needs attention."}
    </p>
  );
}

function StoreCard({ s, facts, now, current }: { s: StoreOverview; facts?: MenuFacts; now: number; current: boolean }) {
  const ordering = orderingWords(s.ordering, s.kitchen ?? null);
  const money = (n: number) => (facts ? formatMoney(n, facts.currency) : (n / 100).toFixed(2));
  const headingId = `store-${s.store_id}`;
  const href = `/stores/${encodeURIComponent(s.store_id)}/orders`;
  return (
    <article className={`card store-card${current ? " current" : ""}`} aria-labelledby={headingId} data-store={s.store_id}>
      <header className="store-card-head">
        <h2 id={headingId}>
          <a
            href={`/dashboard${href}`}
            onClick={(e) => {
              e.preventDefault();
              go(href);
            }}
          >
            {s.name}
          </a>
        </h2>
        <span className={`tag ${ordering.tone === "ok" ? "tag-ok" : ordering.tone === "bad" ? "tag-bad" : "tag-warn"}`} data-testid="ordering-state">
          {ordering.state}
        </span>
      </header>
      <p data-testid="ordering">{ordering.why}</p>
      <div className="store-card-grid">
        <section aria-label={`Store server of ${s.name}`}>
          <h3>Store server</h3>
          <p data-testid="node">
            {s.node.online
              ? "Online"
              : s.node.away_since_ms
                ? awayWords(s.node.away_since_ms, now)
                : "Has not connected yet"}
          </p>
          <p className="muted small" data-testid="sync">
            {s.node.events_waiting === 0
              ? "Nothing is waiting to sync."
              : `${s.node.events_waiting} ${s.node.events_waiting === 1 ? "change is" : "changes are"} waiting to reach the store.`}
          </p>
        </section>
        <section aria-label={`Devices of ${s.name}`}>
          <h3>Devices</h3>
          {s.attention.length === 0 ? (
            <p data-testid="attention-none">{s.node.last_seen_ms == null ? "No devices have reported yet." : "All devices are working."}</p>
          ) : (
            <ul className="plain attention" data-testid="attention">
              {s.attention.map((d) => (
                <li key={d.device_id} data-device={d.device_id}>
                  <strong>{attentionWords(d).what}</strong>: {attentionWords(d).problem}
                  <span className="muted small"> (since {clockWords(d.since_ms, now)})</span>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section aria-label={`Today at ${s.name}`}>
          <h3>Today</h3>
          <dl className="figures" data-testid="today">
            <div>
              <dt>Orders</dt>
              <dd data-figure="orders">{s.today.orders}</dd>
            </div>
            <div>
              <dt>Sales</dt>
              <dd data-figure="sales">{s.today.orders || s.today.sales ? money(s.today.sales) : "None yet"}</dd>
            </div>
            <div>
              <dt>Average ticket</dt>
              <dd data-figure="average">{s.today.orders ? money(s.today.average_ticket) : "None yet"}</dd>
            </div>
          </dl>
          {s.today.cancelled > 0 && (
            <p className="muted small">
              {s.today.cancelled} {s.today.cancelled === 1 ? "order was" : "orders were"} cancelled and {s.today.cancelled === 1 ? "is" : "are"} not counted.
            </p>
          )}
        </section>
        <section aria-label={`Kitchen of ${s.name}`}>
          <h3>Kitchen</h3>
          <Kitchen s={s} facts={facts} now={now} />
        </section>
      </div>
    </article>
  );
}

function Kitchen({ s, facts, now }: { s: StoreOverview; facts?: MenuFacts; now: number }) {
  const k = s.kitchen;
  if (!k) return <p className="muted">The store server has not reported its kitchen yet.</p>;
  const effect = kitchenEffect(k);
  return (
    <>
      <p data-testid="kitchen-effect" data-throttle={k.throttle ?? "none"} className={k.throttle ? "problem-soft" : undefined}>
        {effect}
      </p>
      {k.stations.length > 0 && (
        <table className="table compact">
          <caption className="sr-only">Open tickets per station</caption>
          <thead>
            <tr>
              <th scope="col">Station</th>
              <th scope="col">Waiting</th>
              <th scope="col">Oldest</th>
            </tr>
          </thead>
          <tbody>
            {k.stations.map((st) => (
              <tr key={st.station} data-station={st.station}>
                <td>{stationName(st.station, facts?.stations)}</td>
                <td>
                  {st.open_tickets} {st.open_tickets === 1 ? "ticket" : "tickets"}
                </td>
                <td>{durationWords(st.oldest_age_secs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="muted small">Measured {timeWords(k.reported_ms, now)}.</p>
    </>
  );
}
