// An order's page, live over the hub's tracking socket (reconnecting after a
// drop, reading the order again so nothing missed stays missed), and the
// customer's order history.
import { formatMoney } from "@edge/shared";
import { useEffect, useState } from "react";
import { Link, navigate, useAccount } from "./App";
import { loadCart, saveCart } from "./cart";
import { AuthForm } from "./Auth";
import { type CustomerOrder, api, currentAccount, hub, words } from "./hub";
import { useLoad } from "./load";
import { STEPS, type Status, statusWords, timeWords } from "./words";
import { pickupWords } from "./pickup";

type Link_ = "connecting" | "live" | "reconnecting";

/** Follows one order: its current state, and each status the hub sends. */
function useLiveOrder(orderId: string, signedIn: boolean) {
  const [order, setOrder] = useState<CustomerOrder | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [link, setLink] = useState<Link_>("connecting");
  useEffect(() => {
    if (!signedIn) return;
    let stopped = false;
    let ws: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const connect = async () => {
      try {
        // Reading the order first also renews the access token when it has run out.
        const o = await hub(() => api.GET("/api/v1/me/orders/{id}", { params: { path: { id: orderId } } }));
        if (stopped) return;
        setOrder(o);
        setError(null);
      } catch (e) {
        if (stopped) return;
        setError(words(e));
        retry();
        return;
      }
      const token = currentAccount()?.access;
      if (!token) return;
      const proto = location.protocol === "https:" ? "wss" : "ws";
      ws = new WebSocket(`${proto}://${location.host}/api/v1/me/orders/${encodeURIComponent(orderId)}/events?access_token=${encodeURIComponent(token)}`);
      ws.onopen = () => {
        failures = 0;
        setLink("live");
      };
      ws.onmessage = (m) => {
        try {
          const msg = JSON.parse(String(m.data)) as { type?: string; status?: string; ticket?: string };
          if (msg.type !== "status" || !msg.status) return;
          setOrder((o) => (o ? { ...o, status: msg.status as Status, ticket: msg.ticket || o.ticket } : o));
          // A card order's move (placed once paid, or expired) also changes its
          // payment, which the message does not carry: read the order again.
          if (msg.status === "placed" || msg.status === "payment_expired") void refetch();
        } catch {
          /* not a status message */
        }
      };
      ws.onclose = () => {
        ws = null;
        if (!stopped) retry();
      };
    };
    const refetch = async () => {
      try {
        const o = await hub(() => api.GET("/api/v1/me/orders/{id}", { params: { path: { id: orderId } } }));
        if (!stopped) setOrder(o);
      } catch {
        /* the status from the socket stands; the next reconnect reads the order again */
      }
    };
    const retry = () => {
      setLink("reconnecting");
      failures += 1;
      timer = setTimeout(() => void connect(), Math.min(10_000, 500 * 2 ** Math.min(failures, 5)));
    };
    void connect();
    const online = () => {
      if (!ws) {
        clearTimeout(timer);
        void connect();
      }
    };
    window.addEventListener("online", online);
    return () => {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener("online", online);
      ws?.close();
    };
  }, [orderId, signedIn]);
  return { order, error, link };
}

function Timeline({ status, label }: { status: Status; label: string }) {
  // No steps to show for an order that went no further (the status above says so).
  if (status === "cancelled" || status === "voided" || status === "refunded" || status === "payment_expired") return null;
  const at = STEPS.indexOf(status);
  return (
    <ol className="timeline" aria-label="Order progress">
      {status === "awaiting_payment" && (
        <li className="step current" aria-current="step">
          {label}
        </li>
      )}
      {STEPS.map((s, i) => (
        <li key={s} className={i < at ? "step done" : i === at ? "step current" : "step"} aria-current={i === at ? "step" : undefined}>
          {statusWords(s)}
        </li>
      ))}
    </ol>
  );
}

export function OrderPage({ orderId }: { orderId: string }) {
  const account = useAccount();
  const { order, error, link } = useLiveOrder(orderId, Boolean(account));
  const outcome = new URLSearchParams(location.search).get("payment");
  if (!account) return <SignInFirst title="Your order" intro="Sign in to see this order." />;
  if (!order)
    return (
      <main className="page" aria-busy={!error}>
        {error ? (
          <p className="notice notice-bad" role="alert">
            {error}
          </p>
        ) : (
          "Loading your order…"
        )}
      </main>
    );
  const t = order.totals;
  const pay = order.payment;
  const card = pay.method === "card" ? pay : null;
  // Back from the payment page with "paid", or the hub already has the card's
  // approval: the order goes to the store as soon as the approval is recorded.
  const confirming = order.status === "awaiting_payment" && (outcome === "paid" || card?.state === "authorized");
  const label = confirming ? "Confirming your payment" : statusWords(order.status);
  return (
    <main className="page">
      <h1>Your order</h1>
      {order.ticket && (
        <p className="ticket">
          Your number <strong data-testid="ticket">{order.ticket}</strong>
        </p>
      )}
      <p className="big-status" role="status" aria-live="polite" data-testid="order-status">
        {label}
      </p>
      {order.pickup_at && !["ready", "completed", "cancelled", "voided", "refunded", "payment_expired"].includes(order.status) && (
        <p className="pickup" data-testid="pickup">
          {pickupWords(order.pickup_at)}
        </p>
      )}
      {order.status === "ready" && <p>Your order is ready: come to the counter and give your number.</p>}
      {card && <CardPayment order={order} card={card} outcome={outcome} confirming={confirming} />}
      <Timeline status={order.status} label={label} />
      <p className={`badge live-badge badge-${link === "live" ? "live" : "connecting"}`} data-testid="live">
        {link === "live" ? "Updates live" : link === "connecting" ? "Connecting…" : "Connection lost — reconnecting…"}
      </p>
      <section aria-labelledby="what-title">
        <h2 id="what-title">What you ordered</h2>
        <ul className="lines">
          {order.lines.map((l, i) => (
            <li key={i} className="line">
              <div className="line-text">
                <strong>
                  {l.quantity} × {l.name}
                </strong>
                {l.modifiers.length > 0 && <span className="muted">{l.modifiers.map((m) => m.name).join(", ")}</span>}
              </div>
              <span className="line-total">{formatMoney(l.line_total, t.currency)}</span>
            </li>
          ))}
        </ul>
        <p>
          Total <strong>{formatMoney(t.total, t.currency)}</strong> —{" "}
          {pay.method === "pay_at_pickup"
            ? "pay at the counter when you pick up"
            : order.paid > 0 || pay.state === "authorized" || pay.state === "captured"
              ? "paid by card"
              : "by card"}
        </p>
        <p className="muted">Ordered {timeWords(order.created_ms)}.</p>
      </section>
      <p>
        <Link to="/orders">All my orders</Link> · <Link to={`/stores/${encodeURIComponent(order.store_id)}`}>Order from this store</Link>
      </p>
      {order.status !== "payment_expired" && (
        <button type="button" className="primary" data-testid="reorder" onClick={() => reorder(order)}>
          Order this again
        </button>
      )}
    </main>
  );
}

type Card = Extract<CustomerOrder["payment"], { method: "card" }>;

/**
 * Where a card order's payment stands, in words, with what the customer can do:
 * pay (the same order, on the same payment page) while it waits, order again
 * once the payment page has expired.
 */
function CardPayment({ order, card, outcome, confirming }: { order: CustomerOrder; card: Card; outcome: string | null; confirming: boolean }) {
  if (confirming)
    return (
      <p className="notice" data-testid="payment-notice">
        Thank you. We are confirming your payment with your card&apos;s bank; this page updates by itself. Your order goes to the
        store as soon as the payment is confirmed.
      </p>
    );
  if (order.status === "awaiting_payment")
    return (
      <div className="notice" data-testid="payment-notice">
        <p>
          {outcome === "cancelled" ? "You left the payment page before paying." : "This order is not paid yet."} Nothing was charged
          to your card, and the store has not been sent the order.
        </p>
        {card.problem && <p className="bad">{card.problem}</p>}
        <p>Pay now to send this order to the store{card.problem ? ", with the same card or another one" : ""}.</p>
        {card.checkout_url && (
          <a className="button primary" href={card.checkout_url}>
            Pay now
          </a>
        )}
      </div>
    );
  if (order.status === "payment_expired")
    return (
      <div className="notice" data-testid="payment-notice">
        <p>{card.problem ?? "The payment page closed before the order was paid."}</p>
        <p>Nothing was charged to your card, and the store was not sent this order.</p>
        <button type="button" className="primary" data-testid="reorder" onClick={() => reorder(order)}>
          Order again
        </button>
      </div>
    );
  // Released or refunded after the order went to the store: the hub says why.
  if (card.state === "released" && card.problem) return <p className="notice">{card.problem}</p>;
  return null;
}

/**
 * Puts this order's lines (items, choices, notes) in the store's cart on this
 * device, after what is there, and opens the store: the hub prices the cart
 * again, and says so if an item has since sold out or left the menu.
 */
function reorder(order: CustomerOrder) {
  const lines = order.lines.map((l) => ({
    item_id: l.item_id,
    quantity: l.quantity,
    modifiers: l.modifiers.map((m) => m.id),
    note: l.note ?? null,
  }));
  saveCart(order.store_id, [...loadCart(order.store_id), ...lines]);
  navigate(`/stores/${encodeURIComponent(order.store_id)}`);
}

/** A screen that needs the account: the sign-in form under its title until signed in. */
function SignInFirst({ title, intro }: { title: string; intro: string }) {
  return (
    <main className="page">
      <h1>{title}</h1>
      <AuthForm intro={intro} />
    </main>
  );
}

export function MyOrders() {
  const account = useAccount();
  const { data, error } = useLoad(() => hub(() => api.GET("/api/v1/me/orders")), [account], Boolean(account));
  const orders = data?.orders;
  if (!account) return <SignInFirst title="My orders" intro="Sign in to see your orders." />;
  return (
    <main className="page">
      <h1>My orders</h1>
      {error && (
        <p className="notice notice-bad" role="alert">
          {error}
        </p>
      )}
      {orders?.length === 0 && (
        <p>
          No orders yet. <Link to="/">Find a store</Link>.
        </p>
      )}
      <ul className="stores">
        {orders?.map((o) => (
          <li key={o.id}>
            <Link to={`/orders/${encodeURIComponent(o.id)}`} className="store-card">
              <strong>{o.ticket ?? "Order"}</strong>
              <span>{statusWords(o.status)}</span>
              <span className="muted">
                {formatMoney(o.totals.total, o.totals.currency)} · {timeWords(o.created_ms)}
              </span>
            </Link>
          </li>
        ))}
      </ul>
    </main>
  );
}
