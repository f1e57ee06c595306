// Taking payment. Cash: the amount due, what the customer handed over (typed
// or a quick-cash button), then the change due in big type. Card: the store
// node asks the card terminal and waits while the customer pays there; the
// till shows what to do meanwhile and the outcome in plain words (a decline
// is an everyday outcome: try again or take cash). Both end on the same
// result screen, which can print the receipt.
import { useCallback, useEffect, useRef, useState } from "react";
import {
  type Api,
  ApiError,
  ErrorBanner,
  Modal,
  type OrderView,
  type PaymentResult,
  type PricedOrder,
  type PrintJob,
  call,
  describe,
  formatMoney,
  parseAmount,
} from "@edge/shared";
import { type Idempotency, minorDigits, mayRetry, quickCash } from "./model";

/**
 * Cash for an order already placed, or for the cart: then `quote` is the node's price for it
 * and `place` places it, only once the cashier confirms the cash taken (so nothing reaches the
 * kitchen for a customer who walks away at the till).
 */
export function CashDialog({
  api,
  keys,
  order,
  quote,
  place,
  onPaid,
  onClose,
  onError,
}: {
  api: Api;
  keys: Idempotency;
  order: OrderView | null;
  quote?: PricedOrder | null;
  place?: () => Promise<OrderView>;
  onPaid: (r: PaymentResult) => void;
  onClose: () => void;
  onError: (e: unknown) => void;
}) {
  const totals = order?.totals ?? quote?.totals;
  const currency = totals?.currency ?? "USD";
  const money = (m: number) => formatMoney(m, currency);
  const due = Math.max(0, (totals?.total ?? 0) - (order?.paid ?? 0));
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
      const target = order ?? (await place!());
      const r = await keys.run(`pay:${target.id}`, body, (key) =>
        call(
          api.POST("/api/v1/orders/{id}/payments", {
            params: { path: { id: target.id }, header: { "Idempotency-Key": key } },
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
    <Modal title={order ? `Cash · ${order.ticket}` : "Cash · new order"} onClose={busy ? undefined : onClose}>
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

/** What a failed card attempt means for the cashier: a heading, the sentence, and what may come next. */
function cardOutcome(e: unknown): { title: string; text: string; detail: string | null; retry: boolean; lost: boolean } {
  const text = describe(e);
  if (!(e instanceof ApiError)) return { title: "Card payment did not go through", text, detail: null, retry: true, lost: true };
  // The terminal's own words, e.g. "(card expired, code 0x33)", under ours.
  const detail = /\(([^)]+)\)/.exec(e.serverMessage)?.[1] ?? null;
  switch (e.code) {
    case "card_declined":
      return { title: "Card declined", text, detail, retry: true, lost: false };
    case "payment_cancelled":
      return { title: "Payment cancelled", text, detail: null, retry: true, lost: false };
    case "request_in_flight":
      return {
        title: "Still waiting for the terminal",
        text: "The terminal is still busy with this payment. Follow the terminal, then press Try again to see how it ended.",
        detail: null,
        retry: true,
        lost: true,
      };
    case "no_card_terminal":
    case "already_paid":
    case "order_closed":
    case "forbidden":
      return { title: "Card payment not possible", text, detail: null, retry: false, lost: false };
  }
  if (mayRetry(e)) {
    return {
      title: "No answer from the store server",
      text: "The card may have been charged already. Press Try again: it asks about this same payment and never charges twice.",
      detail: null,
      retry: true,
      lost: true,
    };
  }
  return { title: "Card payment did not go through", text, detail: e.code.startsWith("terminal_") ? detail : null, retry: true, lost: false };
}

/**
 * Card payment of an order's balance. Starts at once: the dialog shows the
 * amount and what to do at the terminal while the node waits (up to about
 * two minutes), with nothing to press twice. One Idempotency-Key per
 * attempt; a retry after a lost answer sends the same key, so it reports the
 * first attempt's outcome instead of charging again.
 */
export function CardDialog({
  api,
  keys,
  order,
  onPaid,
  onCash,
  onClose,
  onError,
}: {
  api: Api;
  keys: Idempotency;
  order: OrderView;
  onPaid: (r: PaymentResult) => void;
  /** "Take cash instead": the cash dialog for the same order. */
  onCash: () => void;
  onClose: () => void;
  onError: (e: unknown) => void;
}) {
  const money = (m: number) => formatMoney(m, order.totals.currency);
  const due = Math.max(0, order.totals.total - order.paid);
  const [failure, setFailure] = useState<unknown>(null);
  const [waiting, setWaiting] = useState(true);
  const sending = useRef(false);
  const started = useRef(false);
  const handlers = useRef({ onPaid, onError });
  handlers.current = { onPaid, onError };

  const attempt = useCallback(async () => {
    if (sending.current) return; // never two requests for one press
    sending.current = true;
    setWaiting(true);
    setFailure(null);
    const body = { method: "card" as const };
    try {
      const r = await keys.run(`pay:${order.id}`, body, (key) =>
        call(
          api.POST("/api/v1/orders/{id}/payments", {
            params: { path: { id: order.id }, header: { "Idempotency-Key": key } },
            body,
          }),
        ),
      );
      handlers.current.onPaid(r);
    } catch (e) {
      handlers.current.onError(e);
      setFailure(e);
      setWaiting(false);
    } finally {
      sending.current = false;
    }
  }, [api, keys, order.id]);

  // The cashier already chose card: ask the terminal as the dialog opens (once, even when React mounts twice in development).
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    void attempt();
  }, [attempt]);

  if (waiting) {
    return (
      <Modal title={`Card · ${order.ticket}`}>
        <div className="card-pay waiting" data-testid="card-waiting" role="status" aria-live="polite">
          <div className="terminal-pulse" aria-hidden="true" />
          <span className="card-label">Amount</span>
          <strong className="card-amount" data-testid="card-amount">
            {money(due)}
          </strong>
          <p className="card-instruction">Follow the terminal: ask the customer to tap or insert the card.</p>
          <p className="muted">
            The terminal gives the customer up to two minutes. To stop, press the red Cancel key on the terminal.
          </p>
        </div>
        <div className="modal-actions">
          <button type="button" className="big" disabled>
            Waiting for the terminal…
          </button>
        </div>
      </Modal>
    );
  }

  const o = cardOutcome(failure);
  return (
    <Modal title={`Card · ${order.ticket}`} onClose={onClose}>
      <div className={o.lost ? "card-pay failed lost" : "card-pay failed"} data-testid="card-failed" role="alert">
        <strong className="card-outcome" data-testid="card-outcome">
          {o.title}
        </strong>
        <p className="card-message" data-testid="card-message">
          {o.text}
        </p>
        {o.detail && <p className="muted">Terminal: {o.detail}</p>}
        <p className="card-due">
          Still due <strong>{money(due)}</strong>
        </p>
      </div>
      <div className="modal-actions">
        <button type="button" onClick={onClose}>
          Back
        </button>
        <button type="button" data-testid="card-take-cash" className={o.retry ? undefined : "primary"} autoFocus={!o.retry} onClick={onCash}>
          Take cash instead
        </button>
        {o.retry && (
          <button type="button" className="primary" data-testid="card-retry" autoFocus onClick={() => void attempt()}>
            Try again
          </button>
        )}
      </div>
    </Modal>
  );
}

/**
 * "Print receipt": a copy of the order's receipt on the receipt printer.
 * Each press is a new copy; a retry after a lost answer reuses the key, so
 * it never prints twice for one press.
 */
export function ReceiptButton({
  api,
  keys,
  order,
  onSent,
  onFailed,
  className,
}: {
  api: Api;
  keys: Idempotency;
  order: OrderView;
  onSent: (job: PrintJob) => void;
  onFailed: (e: unknown) => void;
  className?: string;
}) {
  const [busy, setBusy] = useState(false);
  const print = async () => {
    setBusy(true);
    try {
      const r = await keys.run(`receipt:${order.id}`, null, (key) =>
        call(
          api.POST("/api/v1/orders/{id}/receipt", {
            params: { path: { id: order.id }, header: { "Idempotency-Key": key } },
          }),
        ),
      );
      onSent(r.job);
    } catch (e) {
      onFailed(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" className={className} data-testid={`print-receipt-${order.ticket}`} disabled={busy} onClick={print}>
      {busy ? "Sending…" : "Print receipt"}
    </button>
  );
}

/** After a payment: the ticket and, biggest on the screen, the change to hand back (cash) or the card's reference. */
export function PaidScreen({
  api,
  keys,
  result,
  onDone,
  doneLabel,
  onReceiptSent,
  onError,
}: {
  api: Api;
  keys: Idempotency;
  result: PaymentResult;
  onDone: () => void;
  doneLabel: string;
  onReceiptSent: (job: PrintJob) => void;
  onError: (e: unknown) => void;
}) {
  const money = (m: number) => formatMoney(m, result.order.totals.currency);
  const [error, setError] = useState<string | null>(null);
  const card = result.payment.method === "card";
  return (
    <Modal title="Payment recorded" onClose={onDone}>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <div className="paid">
        <div className="paid-ticket">
          Ticket <strong data-testid="last-ticket">{result.order.ticket}</strong>
        </div>
        {card ? (
          <div className="change" data-testid="card-approved">
            <span>Paid by card — approved</span>
            <strong>{money(result.payment.amount)}</strong>
          </div>
        ) : (
          <div className="change">
            <span>Change due</span>
            <strong data-testid="change-due">{money(result.payment.change)}</strong>
          </div>
        )}
        <dl className="paid-facts">
          <dt>Total</dt>
          <dd>{money(result.order.totals.total)}</dd>
          {card ? (
            <>
              <dt>Reference</dt>
              <dd data-testid="card-reference">{result.payment.reference ?? "—"}</dd>
            </>
          ) : (
            <>
              <dt>Cash given</dt>
              <dd>{money(result.payment.tendered)}</dd>
            </>
          )}
        </dl>
      </div>
      <div className="modal-actions">
        <ReceiptButton
          api={api}
          keys={keys}
          order={result.order}
          className="big"
          onSent={(job) => {
            setError(null);
            onReceiptSent(job);
          }}
          onFailed={(e) => {
            onError(e);
            setError(describe(e));
          }}
        />
        <button type="button" className="primary big" data-testid="new-order" autoFocus onClick={onDone}>
          {doneLabel}
        </button>
      </div>
    </Modal>
  );
}
