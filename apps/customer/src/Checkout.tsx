// Checkout: the cart priced by the hub, the account (signed up or in right
// here), how to pay, and placing the order. One Idempotency-Key per checkout
// attempt, kept on the device until the order is placed, so a retry after a
// lost answer never orders twice.
import { formatMoney } from "@edge/shared";
import { useEffect, useState } from "react";
import { Link, navigate, useAccount } from "./App";
import { AuthForm } from "./Auth";
import { useCart } from "./cart";
import { type LineRequest, api, hub, words } from "./hub";
import { OFFLINE_WORDS, useOnline } from "./online";
import { usePricing } from "./pricing";
import { PickupChoice, usePickupTimes } from "./pickup";
import { useProfile } from "./profile";
import { StoreHeader, menuNamer, useStore } from "./StorePage";

type Payment = "pay_at_pickup" | "card";

/** The attempt's key: the same while the order asked for stays the same, a new one when it changes. */
function attemptKey(storeId: string, body: string): string {
  const k = `edge.customer.checkout.${storeId}`;
  try {
    const kept = JSON.parse(localStorage.getItem(k) ?? "null") as { key: string; body: string } | null;
    if (kept && kept.body === body) return kept.key;
  } catch {
    /* a new key below */
  }
  const key = crypto.randomUUID();
  localStorage.setItem(k, JSON.stringify({ key, body }));
  return key;
}

export function Checkout({ storeId }: { storeId: string }) {
  const account = useAccount();
  const { store, menu, error: loadError, reload } = useStore(storeId);
  const cart = useCart(storeId);
  const name = menuNamer(menu);
  const priced = usePricing(storeId, cart.lines, name);
  const [payment, setPayment] = useState<Payment>("pay_at_pickup");
  const pickup = usePickupTimes(storeId);
  const [pickupAt, setPickupAt] = useState<number | null>(null);
  const profile = useProfile();
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const online = useOnline();
  const back = `/stores/${encodeURIComponent(storeId)}`;
  // A refusal is about the cart as it was: changing the cart clears it.
  const cartBody = JSON.stringify(cart.lines);
  useEffect(() => setError(null), [cartBody]);

  const place = async () => {
    setBusy(true);
    setError(null);
    const body = { lines: cart.lines as LineRequest[], payment, note: note.trim() || null, pickup_at: pickupAt };
    const key = attemptKey(storeId, JSON.stringify(body));
    try {
      const order = await hub(() =>
        api.POST("/api/v1/stores/{id}/orders", { params: { path: { id: storeId }, header: { "Idempotency-Key": key } }, body }),
      );
      localStorage.removeItem(`edge.customer.checkout.${storeId}`);
      cart.clear();
      if (order.payment.method === "card" && order.payment.checkout_url) {
        location.assign(order.payment.checkout_url);
        return;
      }
      navigate(`/orders/${encodeURIComponent(order.id)}`);
    } catch (e) {
      setError(words(e, name));
      reload();
      pickup.reload();
    } finally {
      setBusy(false);
    }
  };

  if (loadError)
    return (
      <main className="page">
        <p className="notice notice-bad" role="alert">
          {loadError}
        </p>
        <Link to={back}>Back to the menu</Link>
      </main>
    );
  const currency = menu?.menu.currency ?? "USD";
  const totals = priced.cart?.order.totals;
  const accepting = store?.ordering.accepting ?? false;
  // Lines whose item or a chosen option sold out since it went in the cart (the menu says so).
  const soldOut = cart.lines.map((l) => {
    const item = menu?.menu.items.find((x) => x.id === l.item_id);
    const options = menu?.menu.modifier_groups.flatMap((g) => g.modifiers).filter((m) => (l.modifiers ?? []).includes(m.id) && m.sold_out) ?? [];
    return item?.sold_out ? (item.name ?? l.item_id) : options.length ? options.map((m) => m.name).join(", ") : null;
  });
  const anySoldOut = soldOut.some(Boolean);
  // Why the order cannot be placed now, in words, shown by the button.
  const blocked = !store
    ? null
    : !accepting
      ? store.ordering.message
      : anySoldOut
        ? `${soldOut.filter(Boolean).join(", ")} sold out: remove ${soldOut.filter(Boolean).length > 1 ? "them" : "it"} to place your order.`
        : null;
  return (
    <main className="page">
      <Link to={back}>← Back to the menu</Link>
      {store && <StoreHeader store={store} />}
      <section aria-labelledby="cart-title">
        <h2 id="cart-title">Your order</h2>
        {cart.lines.length === 0 && (
          <p>
            Your cart is empty. <Link to={back}>Choose something from the menu</Link>.
          </p>
        )}
        {priced.error && !anySoldOut && (
          <p className="notice notice-bad" role="alert">
            {priced.error}
          </p>
        )}
        <ul className="lines">
          {cart.lines.map((l, i) => {
            const p = priced.cart?.order.lines[i];
            const item = menu?.menu.items.find((x) => x.id === l.item_id);
            return (
              <li key={i} className={soldOut[i] ? "line sold-out-line" : "line"} data-testid="cart-line">
                <div className="line-text">
                  <strong>{p?.name ?? item?.name ?? l.item_id}</strong>
                  {p && p.modifiers.length > 0 && <span className="muted">{p.modifiers.map((m) => m.name).join(", ")}</span>}
                  {l.note && <span className="muted">Note: {l.note}</span>}
                  {soldOut[i] && (
                    <span className="bad" data-testid="sold-out">
                      {item?.sold_out ? "Sold out now" : `${soldOut[i]} sold out now`}: remove it to place your order
                    </span>
                  )}
                </div>
                <div className="line-qty">
                  <button type="button" aria-label={`one less ${item?.name ?? ""}`} onClick={() => cart.setQuantity(i, l.quantity - 1)}>
                    −
                  </button>
                  <span>{l.quantity}</span>
                  <button
                    type="button"
                    aria-label={`one more ${item?.name ?? ""}`}
                    disabled={Boolean(soldOut[i])}
                    onClick={() => cart.setQuantity(i, l.quantity + 1)}
                  >
                    +
                  </button>
                  {soldOut[i] && (
                    <button type="button" onClick={() => cart.setQuantity(i, 0)}>
                      Remove
                    </button>
                  )}
                </div>
                <span className="line-total">{p ? formatMoney(p.line_total, currency) : priced.error ? "" : "…"}</span>
              </li>
            );
          })}
        </ul>
        {totals && (
          <dl className="totals" data-testid="totals">
            <dt>Subtotal</dt>
            <dd>{formatMoney(totals.subtotal, totals.currency)}</dd>
            <dt>{totals.tax_mode === "inclusive" ? "Tax included" : "Tax"}</dt>
            <dd>{formatMoney(totals.tax, totals.currency)}</dd>
            <dt>Total</dt>
            <dd>
              <strong>{formatMoney(totals.total, totals.currency)}</strong>
            </dd>
          </dl>
        )}
      </section>
      {cart.lines.length > 0 && !account && <AuthForm intro="To place your order, create an account or sign in. Your cart stays as it is." />}
      {cart.lines.length > 0 && account && (
        <section aria-labelledby="pay-title" className="form">
          <h2 id="pay-title">Pickup and payment</h2>
          <p className="muted">Signed in as {account.email}.</p>
          <PickupChoice times={pickup.times} value={pickupAt} onChange={setPickupAt} />
          <label>
            Note for the kitchen (optional)
            <input value={note} maxLength={200} onChange={(e) => setNote(e.target.value)} />
          </label>
          {profile && profile.saved_notes.length > 0 && (
            <div className="saved-notes" role="group" aria-label="Your saved notes">
              <span className="muted">Your notes:</span>
              {profile.saved_notes.map((n) => (
                <button type="button" key={n} onClick={() => setNote(n)}>
                  {n}
                </button>
              ))}
            </div>
          )}
          <fieldset className="pay">
            <legend>How would you like to pay?</legend>
            <label>
              <input type="radio" name="pay" checked={payment === "pay_at_pickup"} onChange={() => setPayment("pay_at_pickup")} /> Pay at the
              counter when you pick up
            </label>
            <label>
              <input type="radio" name="pay" checked={payment === "card"} onChange={() => setPayment("card")} /> Pay now by card
            </label>
          </fieldset>
          {(error ?? blocked) && (
            // The hub's refusal of the last try, else why the order cannot be placed now: one box, not two saying the same.
            <p className="notice notice-bad" role="alert" data-testid="cannot-order">
              {error ?? blocked}
            </p>
          )}
          {!online && <p id="offline-reason" className="notice">{OFFLINE_WORDS}</p>}
          <button
            type="button"
            className="primary wide"
            disabled={busy || Boolean(blocked) || !totals || !online}
            aria-describedby={online ? undefined : "offline-reason"}
            onClick={() => void place()}
          >
            {busy ? "Placing your order…" : `Place order${totals ? ` — ${formatMoney(totals.total, totals.currency)}` : ""}`}
          </button>
        </section>
      )}
    </main>
  );
}
