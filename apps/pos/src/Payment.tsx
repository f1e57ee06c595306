// Taking cash: the amount due, what the customer handed over (typed or a
// quick-cash button), then the change due in big type with the ticket number
// (the same result screen serves card payments once a terminal exists).
import { useState } from "react";
import {
  type Api,
  ErrorBanner,
  Modal,
  type OrderView,
  type PaymentResult,
  call,
  describe,
  formatMoney,
  parseAmount,
} from "@edge/shared";
import { type Idempotency, minorDigits, quickCash } from "./model";

export function CashDialog({
  api,
  keys,
  order,
  onPaid,
  onClose,
  onError,
}: {
  api: Api;
  keys: Idempotency;
  order: OrderView;
  onPaid: (r: PaymentResult) => void;
  onClose: () => void;
  onError: (e: unknown) => void;
}) {
  const currency = order.totals.currency;
  const money = (m: number) => formatMoney(m, currency);
  const due = Math.max(0, order.totals.total - order.paid);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const tendered = parseAmount(text, currency);
  const enough = tendered !== null && tendered >= due;
  const digits = minorDigits(currency);

  const pay = async (amount: number) => {
    setBusy(true);
    setError(null);
    const body = { method: "cash" as const, tendered: amount };
    try {
      const r = await keys.run(`pay:${order.id}`, body, (key) =>
        call(
          api.POST("/api/v1/orders/{id}/payments", {
            params: { path: { id: order.id }, header: { "Idempotency-Key": key } },
            body,
          }),
        ),
      );
      onPaid(r);
    } catch (e) {
      onError(e);
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={`Cash · ${order.ticket}`} onClose={busy ? undefined : onClose}>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <div className="cash">
        <div className="due">
          <span>Amount due</span>
          <strong data-testid="amount-due">{money(due)}</strong>
        </div>
        <label className="field tendered">
          Cash given
          <input
            data-testid="tendered"
            inputMode="decimal"
            autoFocus
            placeholder={digits > 0 ? (due / 10 ** digits).toFixed(digits) : String(due)}
            value={text}
            disabled={busy}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => e.key === "Enter" && enough && !busy && pay(tendered)}
          />
        </label>
        <div className="quick quick-cash">
          <button type="button" disabled={busy} onClick={() => setText(toText(due, digits))}>
            Exact {money(due)}
          </button>
          {quickCash(due, currency).map((v) => (
            <button key={v} type="button" disabled={busy} onClick={() => setText(toText(v, digits))}>
              {money(v)}
            </button>
          ))}
        </div>
        <p className={tendered !== null && !enough ? "cash-hint warn" : "cash-hint"} aria-live="polite">
          {tendered === null
            ? text.trim()
              ? "That is not an amount."
              : "Type the cash given or tap a note."
            : enough
              ? `Change: ${money(tendered - due)}`
              : `${money(due - tendered)} short.`}
        </p>
      </div>
      <div className="modal-actions">
        <button type="button" onClick={onClose} disabled={busy}>
          Back
        </button>
        <button
          type="button"
          className="primary big"
          data-testid="confirm-payment"
          disabled={!enough || busy}
          onClick={() => tendered !== null && pay(tendered)}
        >
          {busy ? "Recording…" : "Confirm cash"}
        </button>
      </div>
    </Modal>
  );
}

const toText = (minor: number, digits: number) => (digits > 0 ? (minor / 10 ** digits).toFixed(digits) : String(minor));

/** After a cash payment: the ticket and, biggest on the screen, the change to hand back. */
export function PaidScreen({ result, onDone, doneLabel }: { result: PaymentResult; onDone: () => void; doneLabel: string }) {
  const money = (m: number) => formatMoney(m, result.order.totals.currency);
  return (
    <Modal title="Payment recorded" onClose={onDone}>
      <div className="paid">
        <div className="paid-ticket">
          Ticket <strong data-testid="last-ticket">{result.order.ticket}</strong>
        </div>
        {result.payment.method === "cash" ? (
          <div className="change">
            <span>Change due</span>
            <strong data-testid="change-due">{money(result.payment.change)}</strong>
          </div>
        ) : (
          <div className="change">
            <span>Paid by card</span>
            <strong>{money(result.payment.amount)}</strong>
          </div>
        )}
        <dl className="paid-facts">
          <dt>Total</dt>
          <dd>{money(result.order.totals.total)}</dd>
          {result.payment.method === "cash" && (
            <>
              <dt>Cash given</dt>
              <dd>{money(result.payment.tendered)}</dd>
            </>
          )}
        </dl>
      </div>
      <div className="modal-actions">
        <button type="button" className="primary big" data-testid="new-order" autoFocus onClick={onDone}>
          {doneLabel}
        </button>
      </div>
    </Modal>
  );
}
