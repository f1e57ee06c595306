// Live orders: the store's orders as its nodes recorded them, newest first,
// filtered by state and channel, fresh every few seconds and on focus. An
// order's detail: lines, totals, payment, timeline, and for an online order paid
// by card a refund (with an Idempotency-Key kept for the retry).
import { formatMoney } from "@edge/shared";
import { useState } from "react";
import type { StoreChoice } from "./App";
import { api, hub, write } from "./hub";
import { Problem } from "./said";
import { usePoll } from "./poll";
import { channelWords, statusWords, timeWords, words } from "./words";
import { Said } from "./said";

interface Line {
  name?: string;
  quantity?: number;
  line_total?: number;
  note?: string;
  modifiers?: { name?: string }[];
}
interface Order {
  id: string;
  ticket?: string;
  status?: string;
  channel?: string;
  created_ms?: number;
  updated_ms?: number;
  paid?: number;
  refunded?: number;
  customer_name?: string;
  lines?: Line[];
  totals?: { currency?: string; subtotal?: number; discount?: number; tax?: number; total?: number };
  payment?: { method?: string; kind?: string } | string;
}

const ACTIVE = new Set(["placed", "accepted", "in_preparation", "ready", "awaiting_payment"]);
const STATUS_FILTERS = [
  { id: "active", label: "In progress" },
  { id: "done", label: "Finished" },
  { id: "all", label: "All" },
];

export function Orders({ store }: { store: StoreChoice }) {
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("active");
  const [channel, setChannel] = useState("all");
  const [open, setOpen] = useState<string | null>(null);
  const [at, setAt] = useState<number | null>(null);

  async function load() {
    try {
      const r = await hub(() => api.GET("/api/v1/stores/{id}/orders", { params: { path: { id: store.id }, query: { limit: 200 } } }));
      setOrders((r.orders as unknown as Order[]).slice().reverse());
      setAt(Date.now());
      setError(null);
    } catch (e) {
      setError(words(e));
    }
  }
  usePoll(load, 5000, [store.id]);

  if (error && !orders) return <Problem text={error} retry={load} />;
  if (!orders) return <p aria-live="polite">Loading the orders…</p>;
  const shown = orders.filter(
    (o) =>
      (status === "all" || (status === "active") === ACTIVE.has(o.status ?? "")) &&
      (channel === "all" || (o.channel ?? "") === channel),
  );
  const selected = orders.find((o) => o.id === open) ?? null;
  return (
    <section>
      <div className="page-head">
        <h1>Live orders</h1>
        <span className="muted small" aria-live="polite">
          {error ? error : at ? `Updated ${timeWords(at)}` : ""}
        </span>
      </div>
      <div className="row wrap">
        <label>
          Show
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            {STATUS_FILTERS.map((f) => (
              <option key={f.id} value={f.id}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <select value={channel} onChange={(e) => setChannel(e.target.value)}>
            <option value="all">Everywhere</option>
            <option value="pos">Counter</option>
            <option value="kiosk">Kiosk</option>
            <option value="online">Online</option>
          </select>
        </label>
      </div>
      <div className="split">
        <div className="card">
          {shown.length === 0 ? (
            <p className="muted">No orders to show.</p>
          ) : (
            <ul className="plain orders">
              {shown.map((o) => (
                <li key={o.id}>
                  <button type="button" className={o.id === open ? "order-row selected" : "order-row"} aria-pressed={o.id === open} onClick={() => setOpen(o.id)}>
                    <strong>{o.ticket ?? "Order"}</strong>
                    <span>{statusWords(o.status)}</span>
                    <span className="muted">{channelWords(o.channel)}</span>
                    <span>{o.totals?.total !== undefined ? formatMoney(o.totals.total, o.totals.currency) : ""}</span>
                    <span className="muted small">{o.created_ms ? timeWords(o.created_ms) : ""}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        {selected && <OrderDetail key={selected.id} store={store} order={selected} onChanged={load} />}
      </div>
    </section>
  );
}

function isCard(o: Order): boolean {
  const p = o.payment;
  if (typeof p === "string") return p === "card";
  return p?.method === "card" || p?.kind === "card";
}

function OrderDetail({ store, order, onChanged }: { store: StoreChoice; order: Order; onChanged: () => Promise<void> }) {
  const [reason, setReason] = useState("");
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const cur = order.totals?.currency;
  const money = (n: number | undefined) => (n === undefined ? "" : formatMoney(n, cur));
  const refundable = order.channel === "online" && (order.paid ?? 0) > (order.refunded ?? 0) && (isCard(order) || order.payment === undefined);

  async function refund() {
    setBusy(true);
    setError(null);
    try {
      await write((h) =>
        api.POST("/api/v1/stores/{id}/orders/{order}/refunds", {
          params: { path: { id: store.id, order: order.id }, header: h },
          body: { reason: reason.trim() || "Refunded by the store" },
        }),
      );
      setNote("The refund is on its way to the customer's card.");
      await onChanged();
    } catch (e) {
      setError(words(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <article className="card detail" aria-label={`Order ${order.ticket ?? ""}`}>
      <h2>
        {order.ticket ?? "Order"} — {statusWords(order.status)}
      </h2>
      <p className="muted">
        {channelWords(order.channel)}
        {order.customer_name ? ` · ${order.customer_name}` : ""}
      </p>
      <ul className="plain lines">
        {(order.lines ?? []).map((l, i) => (
          <li key={i} className="row between">
            <span>
              {l.quantity ?? 1} × {l.name ?? "Item"}
              {l.modifiers?.length ? <span className="muted small"> ({l.modifiers.map((m) => m.name).join(", ")})</span> : null}
              {l.note ? <span className="muted small"> “{l.note}”</span> : null}
            </span>
            <span>{money(l.line_total)}</span>
          </li>
        ))}
      </ul>
      <dl className="totals">
        <dt>Subtotal</dt>
        <dd>{money(order.totals?.subtotal)}</dd>
        {order.totals?.discount ? (
          <>
            <dt>Discount</dt>
            <dd>−{money(order.totals.discount)}</dd>
          </>
        ) : null}
        <dt>Tax</dt>
        <dd>{money(order.totals?.tax)}</dd>
        <dt>Total</dt>
        <dd>
          <strong>{money(order.totals?.total)}</strong>
        </dd>
        <dt>Paid</dt>
        <dd>{(order.paid ?? 0) > 0 ? `${money(order.paid)}${isCard(order) ? " by card" : ""}` : "Not paid yet"}</dd>
        {order.refunded ? (
          <>
            <dt>Given back</dt>
            <dd>{money(order.refunded)}</dd>
          </>
        ) : null}
      </dl>
      <h3>Timeline</h3>
      <ol className="timeline">
        {order.created_ms && <li>Placed {timeWords(order.created_ms)}</li>}
        {order.updated_ms && order.updated_ms !== order.created_ms && (
          <li>
            {statusWords(order.status)} {timeWords(order.updated_ms)}
          </li>
        )}
      </ol>
      {refundable && (
        <div className="stack">
          <label>
            Why refund (the customer sees this)
            <input value={reason} maxLength={200} onChange={(e) => setReason(e.target.value)} />
          </label>
          <button type="button" className="danger" disabled={busy} onClick={() => void refund()}>
            Refund {money((order.paid ?? 0) - (order.refunded ?? 0))} to the card
          </button>
        </div>
      )}
      <Said error={error} note={note} />
    </article>
  );
}
