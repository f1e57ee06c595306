// The cart side of the till: the lines being rung up, dine-in or takeaway,
// the order note, the discount (with a manager's PIN when a cashier gives it),
// the running estimate, the server's totals once placed, and the pay buttons.
import { useState } from "react";
import {
  type Api,
  type Menu,
  Modal,
  type OrderView,
  type Role,
  formatMoney,
  parseAmount,
} from "@edge/shared";
import { ManagerApproval } from "./Approval";
import { type Cart, type CartLine, type DiscountDraft, describeDiscount, estimate, isManager } from "./model";

export type CartAction = "send" | "cash" | "card";

export function CartPanel({
  menu,
  cart,
  setCart,
  placed,
  busy,
  onSend,
  onPayCash,
  onPayCard,
  onDiscount,
  onRemoveDiscount,
  onNewOrder,
}: {
  menu: Menu;
  cart: Cart;
  setCart: (update: (c: Cart) => Cart) => void;
  placed: OrderView | null;
  busy: CartAction | null;
  onSend: () => void;
  onPayCash: () => void;
  onPayCard: () => void;
  onDiscount: () => void;
  onRemoveDiscount: () => void;
  onNewOrder: () => void;
}) {
  const money = (m: number) => formatMoney(m, menu.currency);
  const est = estimate(cart);
  const locked = placed !== null || busy !== null;
  const soldOut = (l: CartLine) => menu.items.find((i) => i.id === l.item_id)?.sold_out ?? true;
  const setQty = (key: string, q: number) =>
    setCart((c) => ({ ...c, lines: c.lines.map((l) => (l.key === key ? { ...l, quantity: Math.max(1, Math.min(99, q)) } : l)) }));
  const remove = (key: string) => setCart((c) => ({ ...c, lines: c.lines.filter((l) => l.key !== key) }));
  const empty = cart.lines.length === 0;

  return (
    <section className="cart" data-testid="cart" aria-label="Current order">
      <header className="cart-head">
        <h2>{placed ? `Order ${placed.ticket}` : "New order"}</h2>
        {placed ? (
          <span className={placed.paid >= placed.totals.total ? "pill paid" : "pill unpaid"}>
            {placed.paid >= placed.totals.total ? "paid" : "unpaid"} · {placed.status}
          </span>
        ) : (
          <span className="muted">
            {est.count} item{est.count === 1 ? "" : "s"}
          </span>
        )}
      </header>

      {placed && (
        <p className="placed-info">
          {placed.fulfillment === "dine_in" ? (placed.table ? `Dine in · Table ${placed.table}` : "Dine in") : "Takeaway"}
          {placed.customer_name && ` · ${placed.customer_name}`}
          {placed.note && <em> · Note: {placed.note}</em>}
        </p>
      )}
      <ul className="cart-lines">
        {empty && !placed && <li className="cart-empty">Tap an item on the menu to start an order.</li>}
        {placed
          ? placed.lines.map((l, i) => (
              <li key={i} className="cart-line" data-testid="cart-line">
                <div className="line-main">
                  <span className="line-name">
                    <b>{l.quantity}×</b> {l.name}
                  </span>
                  <span className="line-total">{money(l.line_total)}</span>
                </div>
                {l.modifiers.length > 0 && <div className="line-mods">{l.modifiers.map((m) => m.name).join(", ")}</div>}
                {l.note && <div className="line-note">Note: {l.note}</div>}
              </li>
            ))
          : cart.lines.map((l) => (
              <li key={l.key} className={soldOut(l) ? "cart-line unavailable" : "cart-line"} data-testid="cart-line">
                <div className="line-main">
                  <span className="line-name">{l.name}</span>
                  <span className="line-total">{money(l.unitPrice * l.quantity)}</span>
                </div>
                <div className="line-sub">
                  <div className="line-info">
                    {l.modifierNames.length > 0 && <div className="line-mods">{l.modifierNames.join(", ")}</div>}
                    {l.note && <div className="line-note">Note: {l.note}</div>}
                    {soldOut(l) && <div className="line-warn">Sold out now — remove this line.</div>}
                    {l.quantity > 1 && <div className="line-unit muted">{money(l.unitPrice)} each</div>}
                  </div>
                  <div className="line-controls">
                    <button type="button" aria-label={`one less ${l.name}`} disabled={locked || l.quantity <= 1} onClick={() => setQty(l.key, l.quantity - 1)}>
                      −
                    </button>
                    <span className="line-qty" data-testid="line-qty">
                      {l.quantity}
                    </span>
                    <button type="button" aria-label={`one more ${l.name}`} disabled={locked || l.quantity >= 99} onClick={() => setQty(l.key, l.quantity + 1)}>
                      +
                    </button>
                    <button type="button" className="line-remove" aria-label={`Remove ${l.name}`} title="Remove" disabled={locked} onClick={() => remove(l.key)}>
                      ✕
                    </button>
                  </div>
                </div>
              </li>
            ))}
      </ul>

      {!placed && (
        <div className="order-options">
          <div className="row">
            <div className="segmented" role="group" aria-label="Dine in or takeaway">
              <button
                type="button"
                data-testid="fulfillment-dine_in"
                className={cart.fulfillment === "dine_in" ? "on" : ""}
                aria-pressed={cart.fulfillment === "dine_in"}
                disabled={locked}
                onClick={() => setCart((c) => ({ ...c, fulfillment: "dine_in" }))}
              >
                Dine in
              </button>
              <button
                type="button"
                data-testid="fulfillment-takeaway"
                className={cart.fulfillment === "takeaway" ? "on" : ""}
                aria-pressed={cart.fulfillment === "takeaway"}
                disabled={locked}
                onClick={() => setCart((c) => ({ ...c, fulfillment: "takeaway" }))}
              >
                Takeaway
              </button>
            </div>
            {cart.fulfillment === "dine_in" ? (
              <input
                data-testid="table"
                aria-label="Table"
                placeholder="Table"
                maxLength={60}
                disabled={locked}
                value={cart.table}
                onChange={(e) => setCart((c) => ({ ...c, table: e.target.value }))}
              />
            ) : (
              <input
                data-testid="customer-name"
                aria-label="Customer name"
                placeholder="Customer name"
                maxLength={60}
                disabled={locked}
                value={cart.customerName}
                onChange={(e) => setCart((c) => ({ ...c, customerName: e.target.value }))}
              />
            )}
          </div>
          <div className="row">
            <input
              data-testid="order-note"
              aria-label="Order note"
              placeholder="Order note (allergies, timing…)"
              maxLength={200}
              disabled={locked}
              value={cart.note}
              onChange={(e) => setCart((c) => ({ ...c, note: e.target.value }))}
            />
            <button type="button" data-testid="discount" disabled={locked || empty} onClick={onDiscount}>
              {cart.discount ? "Change discount" : "Discount"}
            </button>
          </div>
          {cart.discount && (
            <div className="discount-chip" data-testid="discount-chip">
              <span>
                <b>−{describeDiscount(cart.discount, money)}</b> · {cart.discount.reason}
                {cart.discount.approval && <small> · OK’d by {cart.discount.approval.managerName}</small>}
              </span>
              <button type="button" aria-label="Remove discount" disabled={locked} onClick={onRemoveDiscount}>
                ✕
              </button>
            </div>
          )}
        </div>
      )}

      {placed ? (
        <dl className="totals" data-testid="server-totals">
          <dt>Subtotal</dt>
          <dd>{money(placed.totals.subtotal)}</dd>
          {(placed.totals.discount ?? 0) > 0 && (
            <>
              <dt>Discount{placed.discount ? ` (${placed.discount.reason})` : ""}</dt>
              <dd>−{money(placed.totals.discount ?? 0)}</dd>
            </>
          )}
          <dt>Tax</dt>
          <dd>{money(placed.totals.tax)}</dd>
          <dt className="grand">Total</dt>
          <dd className="grand" data-testid="server-total">
            {money(placed.totals.total)}
          </dd>
          {placed.paid > 0 && (
            <>
              <dt>Paid</dt>
              <dd>{money(placed.paid)}</dd>
            </>
          )}
        </dl>
      ) : (
        <dl className="totals" data-testid="estimate">
          {est.discount > 0 && (
            <>
              <dt>Items</dt>
              <dd>{money(est.subtotal)}</dd>
              <dt>Discount</dt>
              <dd>−{money(est.discount)}</dd>
            </>
          )}
          <dt className="grand">
            Estimate <small>{menu.tax_mode === "exclusive" ? "before tax" : "tax included"}</small>
          </dt>
          <dd className="grand">{money(est.total)}</dd>
        </dl>
      )}

      <div className="cart-actions">
        {placed ? (
          <button type="button" onClick={onNewOrder} disabled={busy !== null}>
            {placed.paid >= placed.totals.total ? "New order" : "Keep as open tab · new order"}
          </button>
        ) : (
          <button type="button" data-testid="send" className="send" disabled={empty || busy !== null} onClick={onSend}>
            {busy === "send" ? "Sending…" : "Send to kitchen"}
          </button>
        )}
        <div className="pay-row">
          <button
            type="button"
            data-testid="pay-cash"
            className="primary"
            disabled={(empty && !placed) || busy !== null || (placed !== null && placed.paid >= placed.totals.total)}
            onClick={onPayCash}
          >
            {busy === "cash" ? "Pricing…" : "Pay cash"}
          </button>
          <button
            type="button"
            data-testid="pay-card"
            disabled={(empty && !placed) || busy !== null || (placed !== null && placed.paid >= placed.totals.total)}
            onClick={onPayCard}
          >
            {busy === "card" ? "Placing…" : "Pay card"}
          </button>
        </div>
      </div>
    </section>
  );
}

const QUICK_PERCENT = [5, 10, 15, 20, 50, 100];
const QUICK_REASONS = ["Staff meal", "Complaint", "Loyalty", "Promotion"];

/**
 * Percent or amount off the whole order, with a reason. A cashier's discount
 * needs a manager: they pick their name and enter their PIN, the till signs
 * them in for two minutes and keeps that token to send with the order.
 */
export function DiscountDialog({
  api,
  role,
  currency,
  subtotal,
  onApply,
  onClose,
}: {
  api: Api;
  role: Role;
  currency: string;
  subtotal: number;
  onApply: (d: DiscountDraft) => void;
  onClose: () => void;
}) {
  const [kind, setKind] = useState<"percent" | "amount">("percent");
  const [text, setText] = useState("");
  const [reason, setReason] = useState("");
  const [step, setStep] = useState<"details" | "approve">("details");
  const needsApproval = !isManager(role);

  // Server value: basis points for percent, minor units for an amount.
  const value = (() => {
    if (kind === "percent") {
      const p = Number(text.trim().replace(",", "."));
      return text.trim() && Number.isFinite(p) && p > 0 && p <= 100 ? Math.round(p * 100) : null;
    }
    const a = parseAmount(text, currency);
    return a && a > 0 ? a : null;
  })();
  const off = value === null ? 0 : kind === "percent" ? Math.round((subtotal * value) / 10_000) : Math.min(value, subtotal);
  const valid = value !== null && reason.trim().length > 0;

  const draft = (approval: DiscountDraft["approval"]): DiscountDraft => ({ kind, value: value!, reason: reason.trim(), approval });

  return (
    <Modal title={step === "details" ? "Discount" : "Manager approval"} onClose={onClose}>
      {step === "details" ? (
        <div className="discount-form">
          <div className="segmented" role="group" aria-label="Kind of discount">
            <button
              type="button"
              data-testid="discount-percent"
              className={kind === "percent" ? "on" : ""}
              aria-pressed={kind === "percent"}
              onClick={() => setKind("percent")}
            >
              Percent off
            </button>
            <button
              type="button"
              data-testid="discount-amount"
              className={kind === "amount" ? "on" : ""}
              aria-pressed={kind === "amount"}
              onClick={() => setKind("amount")}
            >
              Amount off
            </button>
          </div>
          <label className="field">
            {kind === "percent" ? "Percent" : "Amount"}
            <input
              data-testid="discount-value"
              inputMode="decimal"
              autoFocus
              placeholder={kind === "percent" ? "e.g. 10" : "e.g. 5.00"}
              value={text}
              onChange={(e) => setText(e.target.value)}
            />
          </label>
          {kind === "percent" && (
            <div className="quick">
              {QUICK_PERCENT.map((p) => (
                <button key={p} type="button" className={text === String(p) ? "on" : ""} onClick={() => setText(String(p))}>
                  {p}%
                </button>
              ))}
            </div>
          )}
          <label className="field">
            Reason
            <input data-testid="discount-reason" maxLength={200} placeholder="Why?" value={reason} onChange={(e) => setReason(e.target.value)} />
          </label>
          <div className="quick">
            {QUICK_REASONS.map((r) => (
              <button key={r} type="button" className={reason === r ? "on" : ""} onClick={() => setReason(r)}>
                {r}
              </button>
            ))}
          </div>
          <p className="muted">
            {value === null
              ? kind === "percent"
                ? "Enter a percent from 0 to 100."
                : "Enter an amount."
              : `Takes about ${formatMoney(off, currency)} off (the server works out the exact amount).`}
          </p>
          <div className="modal-actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button
              type="button"
              className="primary"
              data-testid="discount-next"
              disabled={!valid}
              onClick={() => (needsApproval ? setStep("approve") : onApply(draft(null)))}
            >
              {needsApproval ? "Next: manager approval" : "Apply discount"}
            </button>
          </div>
        </div>
      ) : (
        <div className="approve">
          <p>
            {describeDiscount({ kind, value: value! }, (m) => formatMoney(m, currency))} off · {reason.trim()}. A manager
            approves with their PIN.
          </p>
          <ManagerApproval api={api} action="approve discounts" onApproved={(a) => onApply(draft(a))} />
          <div className="modal-actions">
            <button type="button" onClick={() => setStep("details")}>
              Back
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </Modal>
  );
}
