// Sales: this store's, or every store's of the organisation (for those who see
// the whole organisation), over a range of days (today unless chosen): totals,
// and by day, hour, item, category, channel (Till, Kiosk, Online) and tender as
// charts (Recharts) with the same numbers in tables below them; "Download CSV"
// saves the hub's own CSV of the same report. Every number is the hub's
// (`GET /api/v1/stores/{id}/sales`, `GET /api/v1/orgs/{org_id}/sales`): the page
// never adds orders up, it only draws and words what the hub summed.
import { formatMoney } from "@edge/shared";
import type { HubSchemas } from "@edge/shared/hub-api";
import { type FormEvent, useEffect, useState } from "react";
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { StoreChoice } from "./App";
import { api, hub } from "./hub";
import { salesChannelWords, tenderWords, words } from "./words";
import { Said } from "./said";

type Report = HubSchemas["SalesReport"];
type Row = HubSchemas["SalesRow"];
type Scope = "store" | "org";
interface Range {
  from: string;
  to: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_DAYS = 366;

/** The report for `scope` over `range` (both days empty: the hub's today). */
function fetchReport(store: StoreChoice, scope: Scope, range: Range | null): Promise<Report> {
  const days = range ? { from: range.from, to: range.to } : {};
  if (scope === "org")
    return hub(() => api.GET("/api/v1/orgs/{org_id}/sales", { params: { path: { org_id: store.orgId }, query: days } }));
  return hub(() => api.GET("/api/v1/stores/{id}/sales", { params: { path: { id: store.id }, query: days } }));
}

/** The hub's CSV of the same report, as a file. */
function fetchCsv(store: StoreChoice, scope: Scope, range: Range): Promise<Blob> {
  const query = { from: range.from, to: range.to, format: "csv" };
  if (scope === "org")
    return hub(() => api.GET("/api/v1/orgs/{org_id}/sales", { params: { path: { org_id: store.orgId }, query }, parseAs: "blob" }));
  return hub(() => api.GET("/api/v1/stores/{id}/sales", { params: { path: { id: store.id }, query }, parseAs: "blob" }));
}

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T12:00:00Z`) - Date.parse(`${from}T12:00:00Z`)) / 86_400_000) + 1;
}

function dayWords(day: string): string {
  const d = new Date(`${day}T12:00:00Z`);
  return d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "sales"
  );
}

export function Sales({ store }: { store: StoreChoice }) {
  const [scope, setScope] = useState<Scope>("store");
  // What is shown: null until the first answer says which day "today" is.
  const [range, setRange] = useState<Range | null>(null);
  const [draft, setDraft] = useState<Range>({ from: "", to: "" });
  const [today, setToday] = useState<string | null>(null);
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [saving, setSaving] = useState(false);
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    setBusy(true);
    setError(null);
    fetchReport(store, scope, range)
      .then((r) => {
        if (!alive) return;
        setReport(r);
        if (!range) {
          setToday(r.from);
          setDraft({ from: r.from, to: r.to });
        }
      })
      .catch((e) => alive && setError(words(e)))
      .finally(() => alive && setBusy(false));
    return () => {
      alive = false;
    };
  }, [store, scope, range]);

  function show(e: FormEvent) {
    e.preventDefault();
    setNote(null);
    if (!DAY.test(draft.from) || !DAY.test(draft.to)) return setError("Choose a first and a last day.");
    const n = daysBetween(draft.from, draft.to);
    if (n < 1) return setError("The last day is before the first day: choose a last day on or after the first.");
    if (n > MAX_DAYS) return setError(`A report covers at most ${MAX_DAYS} days; these are ${n}. Choose a shorter range.`);
    setRange({ ...draft });
  }

  function quick(days: number) {
    if (!today) return;
    const r = { from: addDays(today, 1 - days), to: today };
    setDraft(r);
    setNote(null);
    setRange(r);
  }

  async function download() {
    if (!report) return;
    setSaving(true);
    setNote(null);
    setError(null);
    try {
      const blob = await fetchCsv(store, scope, { from: report.from, to: report.to });
      const who = scope === "org" ? store.orgName : store.name;
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `sales-${slug(who)}-${report.from}-${report.to}.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setNote(`Saved ${a.download}.`);
    } catch (e) {
      setError(words(e));
    } finally {
      setSaving(false);
    }
  }

  const cur = report?.currency || "USD";
  const money = (n: number) => formatMoney(n, cur);
  const title = scope === "org" ? `all stores of ${store.orgName}` : store.name;

  return (
    <section className="sales">
      <div className="page-head">
        <h1>Sales</h1>
        <button type="button" className="primary" onClick={() => void download()} disabled={!report || saving || busy}>
          {saving ? "Preparing the file…" : "Download CSV"}
        </button>
      </div>
      <form className="row wrap sales-controls" onSubmit={show}>
        {store.orgWide && (
          <label>
            Stores
            <select value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
              <option value="store">This store: {store.name}</option>
              <option value="org">All stores of {store.orgName}</option>
            </select>
          </label>
        )}
        <label>
          First day
          <input type="date" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} />
        </label>
        <label>
          Last day
          <input type="date" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
        </label>
        <button type="submit" disabled={busy}>
          Show
        </button>
        <button type="button" onClick={() => quick(1)} disabled={!today || busy}>
          Today
        </button>
        <button type="button" onClick={() => quick(7)} disabled={!today || busy}>
          Last 7 days
        </button>
      </form>
      <Said error={error} note={note} />
      {!report ? (
        !error && <p aria-live="polite">Loading the sales report…</p>
      ) : (
        <div aria-busy={busy} data-testid="sales-report" data-from={report.from} data-to={report.to}>
          <p className="muted">
            {report.from === report.to ? dayWords(report.from) : `${dayWords(report.from)} to ${dayWords(report.to)}`}, {title}.{" "}
            {report.time_zones.length === 1 ? `Days and hours in the store's time (${report.time_zones[0]}).` : "Days and hours in each store's own time."}
          </p>
          <Totals report={report} money={money} />
          {report.totals.orders === 0 ? (
            <p className="card">No orders in these days.</p>
          ) : (
            <div className="charts">
              <Breakdown title="By day" rows={report.by_day} label={(r) => dayWords(r.key)} money={money} currency={cur} />
              <Breakdown title="By hour" rows={hours(report.by_hour)} label={(r) => `${r.key}:00`} money={money} currency={cur} />
              <Breakdown title="By item" rows={report.by_item.slice(0, 10)} all={report.by_item} label={(r) => r.label || "Item no longer on the menu"} money={money} currency={cur} quantity horizontal />
              <Breakdown title="By category" rows={report.by_category} label={(r) => r.label || "Not on the menu now"} money={money} currency={cur} quantity horizontal />
              <Breakdown title="By channel" rows={report.by_channel} label={(r) => salesChannelWords(r.key)} money={money} currency={cur} />
              <Breakdown title="By payment" rows={report.by_tender} label={(r) => tenderWords(r.key)} money={money} currency={cur} payments />
            </div>
          )}
        </div>
      )}
    </section>
  );
}

/** The hours from the first to the last with orders, the ones between without orders as zero. */
function hours(rows: Row[]): Row[] {
  if (rows.length === 0) return rows;
  const by = new Map(rows.map((r) => [Number(r.key), r]));
  const keys = [...by.keys()];
  const out: Row[] = [];
  for (let h = Math.min(...keys); h <= Math.max(...keys); h++)
    out.push(by.get(h) ?? { key: String(h).padStart(2, "0"), label: "", orders: 0, quantity: 0, sales: 0 });
  return out;
}

function Totals({ report, money }: { report: Report; money: (n: number) => string }) {
  const t = report.totals;
  const figures: [string, string, number, string][] = [
    ["orders", "Orders", t.orders, String(t.orders)],
    ["gross_sales", "Sales", t.gross_sales, money(t.gross_sales)],
    ["average_ticket", "Average ticket", t.average_ticket, t.orders ? money(t.average_ticket) : "None yet"],
    ["net_sales", "After refunds", t.net_sales, money(t.net_sales)],
    ["tax", "Tax in sales", t.tax, money(t.tax)],
    ["discounts", "Discounts given", t.discounts, money(t.discounts)],
    ["refunds", "Refunded", t.refunds, money(t.refunds)],
  ];
  return (
    <dl className="figures totals-grid" data-testid="sales-totals">
      {figures.map(([key, name, value, text]) => (
        <div key={key} className="card">
          <dt>{name}</dt>
          <dd data-total={key} data-value={value}>
            {text}
          </dd>
        </div>
      ))}
    </dl>
  );
}

const AXIS = { fill: "#c9d2db", fontSize: 13 };

const digits = new Map<string, number>();
function digitsOf(currency: string): number {
  let d = digits.get(currency);
  if (d === undefined) {
    d = new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
    digits.set(currency, d);
  }
  return d;
}

function tickFormat(currency: string, whole: boolean): Intl.NumberFormat {
  return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: 0, maximumFractionDigits: whole ? 0 : 2 });
}

function Breakdown({
  title,
  rows,
  all,
  label,
  money,
  currency,
  quantity = false,
  payments = false,
  horizontal = false,
}: {
  title: string;
  rows: Row[];
  all?: Row[];
  label: (r: Row) => string;
  money: (n: number) => string;
  currency: string;
  quantity?: boolean;
  payments?: boolean;
  horizontal?: boolean;
}) {
  // Bars in whole currency units, so the axis has round numbers; the tables keep the hub's minor units.
  const unit = 10 ** digitsOf(currency);
  const data = rows.map((r) => ({ name: label(r), sales: r.sales / unit, minor: r.sales }));
  const table = all ?? rows;
  const id = `chart-${slug(title)}`;
  const height = horizontal ? Math.max(160, data.length * 34 + 40) : 240;
  const short = (v: number) => tickFormat(currency, Number.isInteger(v)).format(v);
  const tooltip = {
    formatter: (_v: unknown, _n: unknown, item: { payload?: { minor?: number } }) => money(item.payload?.minor ?? 0),
    contentStyle: { background: "#1b2127", border: "1px solid #33404c", color: "#f4f6f8" },
    labelStyle: { color: "#f4f6f8" },
    itemStyle: { color: "#8fd3ff" },
    cursor: { fill: "rgba(255, 255, 255, 0.08)" },
  };
  return (
    <section className="card chart-card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {table.length === 0 ? (
        <p className="muted">{payments ? "No payments taken in these days yet." : "None in these days."}</p>
      ) : (
        <>
          <div role="img" aria-label={`${title}: a chart of the sales in the table below`} className="chart">
            <ResponsiveContainer width="100%" height={height}>
              {horizontal ? (
                <BarChart data={data} layout="vertical" margin={{ left: 8, right: 16 }} accessibilityLayer={false}>
                  <CartesianGrid stroke="#33404c" horizontal={false} />
                  <XAxis type="number" tick={AXIS} tickFormatter={short} />
                  <YAxis type="category" dataKey="name" tick={AXIS} width={130} interval={0} />
                  <Tooltip {...tooltip} />
                  <Bar dataKey="sales" name="Sales" fill="#5fb3f0" isAnimationActive={false} />
                </BarChart>
              ) : (
                <BarChart data={data} margin={{ left: 8, right: 16 }} accessibilityLayer={false}>
                  <CartesianGrid stroke="#33404c" vertical={false} />
                  <XAxis dataKey="name" tick={AXIS} />
                  <YAxis tick={AXIS} tickFormatter={short} width={70} />
                  <Tooltip {...tooltip} />
                  <Bar dataKey="sales" name="Sales" fill="#5fb3f0" isAnimationActive={false} />
                </BarChart>
              )}
            </ResponsiveContainer>
          </div>
          <table className="table compact" data-breakdown={slug(title)}>
            <caption className="sr-only">{title}</caption>
            <thead>
              <tr>
                <th scope="col">{title.replace(/^By /, "").replace(/^./, (c) => c.toUpperCase())}</th>
                <th scope="col" className="num">
                  {payments ? "Payments" : "Orders"}
                </th>
                {quantity && (
                  <th scope="col" className="num">
                    Sold
                  </th>
                )}
                <th scope="col" className="num">
                  {payments ? "Taken" : "Sales"}
                </th>
              </tr>
            </thead>
            <tbody>
              {table.map((r) => (
                <tr key={r.key} data-key={r.key} data-sales={r.sales}>
                  <td>{label(r)}</td>
                  <td className="num">{r.orders}</td>
                  {quantity && <td className="num">{r.quantity}</td>}
                  <td className="num">{money(r.sales)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
