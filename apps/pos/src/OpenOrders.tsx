// Today's open orders (kept live from the event stream by the till): ticket,
// status, total and whether it is paid, with the counter's row actions —
// take cash or card, print the receipt, complete, cancel, void (managers).
// Cancelling or voiding a paid order gives the money back, so a cashier needs a
// manager's PIN for it, as for a discount; the node records the refund by tender
// (an online order's card payment is given back by the hub, asked through sync).
import { useEffect, useState } from "react";
import { type Api, ApiError, ErrorBanner, Modal, type OrderView, type PrintJob, type Role, call, describe, formatMoney } from "@edge/shared";
import { type Approval, ManagerApproval, endApproval } from "./Approval";
import { type Idempotency, isManager } from "./model";
import { ReceiptButton } from "./Payment";

type Transition = "complete" | "cancel" | "void";

export function OpenOrders({
  api,
  keys,
  role,
  orders,
  loading,
  compact,
  onExpand,
  onPay,
  onPayCard,
  onReceiptSent,
  onChanged,
  onError,
}: {
  api: Api;
  keys: Idempotency;
  role: Role;
  orders: OrderView[];
  loading: boolean;
  /** A one-line rail under the menu (tablet width): ticket, status, total, paid; a tap opens the full panel. */
  compact: boolean;
  onExpand: () => void;
  onPay: (o: OrderView) => void;
  onPayCard: (o: OrderView) => void;
  onReceiptSent: (job: PrintJob) => void;
  onChanged: (o: OrderView) => void;
  onError: (e: unknown) => void;
}) {
  const now = useNow(30_000);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [asking, setAsking] = useState<{ order: OrderView; transition: "cancel" | "void" } | null>(null);
  const manager = isManager(role);

  /**
   * Moves an order on, with a manager's approval when one was given (used once, then signed out).
   * Returns "done", "approval" when the node asks for a manager's approval, or "failed" (shown in words).
   */
  const move = async (order: OrderView, transition: Transition, reason?: string, approval?: Approval | null) => {
    setBusy(order.id);
    setError(null);
    // No body at all without a reason: the server refuses a JSON `null` (though the schema allows it).
    const body = reason ? { reason } : undefined;
    try {
      const r = await keys.run(`${transition}:${order.id}`, body, (key) =>
        call(
          api.POST("/api/v1/orders/{id}/{transition}", {
            params: {
              path: { id: order.id, transition },
              header: { "Idempotency-Key": key, "X-Manager-Approval": approval?.token },
            },
            body,
          }),
        ),
      );
      onChanged(r);
      return "done" as const;
    } catch (e) {
      if (e instanceof ApiError && e.code === "manager_approval_required") return "approval" as const;
      onError(e);
      setError(`${order.ticket}: ${describe(e)}`);
      return "failed" as const;
    } finally {
      endApproval(api, approval);
      setBusy(null);
    }
  };

  if (compact) {
    return (
      <section className="open-orders compact" data-testid="open-orders" aria-label="Open orders">
        <button type="button" className="rail-title" onClick={onExpand}>
          Open
          <br />
          orders
        </button>
        <ul className="order-rail">
          {orders.length === 0 && <li className="muted">{loading ? "Loading…" : "None right now."}</li>}
          {orders.map((o) => (
            <li key={o.id} data-testid={`order-${o.ticket}`}>
              <button type="button" className={`rail-chip st-${o.status}`} onClick={onExpand}>
                <strong>{o.ticket}</strong>
                <span className={`status st-${o.status}`} data-testid={`status-${o.ticket}`}>
                  {o.status}
                </span>
                <span className="rail-money">
                  {formatMoney(o.totals.total, o.totals.currency)} · {o.totals.total - o.paid <= 0 ? "paid" : "unpaid"}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </section>
    );
  }

  return (
    <section className="open-orders" data-testid="open-orders" aria-label="Open orders">
      <header className="panel-head">
        <h2>Open orders</h2>
        <span className="muted">{loading ? "loading…" : `${orders.length} today`}</span>
      </header>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <ul className="order-list">
        {!loading && orders.length === 0 && <li className="cart-empty">No open orders right now.</li>}
        {orders.map((o) => {
          const money = (m: number) => formatMoney(m, o.totals.currency);
          const due = o.totals.total - o.paid;
          const rowBusy = busy === o.id;
          return (
            <li key={o.id} className={`order-row st-${o.status}`} data-testid={`order-${o.ticket}`}>
              <div className="order-top">
                <strong className="ticket">{o.ticket}</strong>
                <span className={`status st-${o.status}`} data-testid={`status-${o.ticket}`}>
                  {o.status}
                </span>
                <span className="where">{where(o)}</span>
                <span className="age muted">{age(now - o.created_ms)}</span>
                <span className="order-money">
                  <span className="order-total">{money(o.totals.total)}</span>
                  <span className={due <= 0 ? "pill paid" : "pill unpaid"} data-testid={`paid-${o.ticket}`}>
                    {due <= 0 ? (o.channel === "online" ? "paid online" : "paid") : "unpaid"}
                  </span>
                </span>
              </div>
              <div className="order-items">
                {o.lines.map((l) => `${l.quantity}× ${l.name}`).join(", ")}
                {o.note && <em> · Note: {o.note}</em>}
              </div>
              <div className="order-actions">
                {due > 0 ? (
                  <>
                    <button type="button" className="primary" disabled={rowBusy} onClick={() => onPay(o)}>
                      Take cash {money(due)}
                    </button>
                    <button type="button" data-testid={`card-${o.ticket}`} disabled={rowBusy} onClick={() => onPayCard(o)}>
                      Card
                    </button>
                  </>
                ) : (
                  <ReceiptButton
                    api={api}
                    keys={keys}
                    order={o}
                    onSent={onReceiptSent}
                    onFailed={(e) => {
                      onError(e);
                      setError(`${o.ticket}: ${describe(e)}`);
                    }}
                  />
                )}
                {o.status === "ready" && (
                  <button type="button" className="primary" data-testid={`complete-${o.ticket}`} disabled={rowBusy} onClick={() => move(o, "complete")}>
                    Complete
                  </button>
                )}
                {o.status !== "ready" && (
                  <button type="button" disabled={rowBusy} onClick={() => setAsking({ order: o, transition: "cancel" })}>
                    Cancel
                  </button>
                )}
                <button
                  type="button"
                  className={manager ? undefined : "with-hint"}
                  disabled={rowBusy || !manager}
                  title={manager ? undefined : "Only a manager can void an order"}
                  onClick={() => setAsking({ order: o, transition: "void" })}
                >
                  Void{!manager && <small>manager only</small>}
                </button>
              </div>
            </li>
          );
        })}
      </ul>
      {asking && (
        <ReasonDialog
          api={api}
          manager={manager}
          order={asking.order}
          transition={asking.transition}
          busy={busy === asking.order.id}
          error={error}
          onConfirm={async (reason, approval) => {
            const r = await move(asking.order, asking.transition, reason, approval);
            if (r === "done") setAsking(null);
            return r;
          }}
          onClose={() => setAsking(null)}
        />
      )}
    </section>
  );
}

const VOID_REASONS = ["Rung up by mistake", "Duplicate order", "Customer left", "Test order"];

/**
 * Confirm a cancel (reason optional) or a void (reason required). A paid order's money goes back
 * to the customer: a cashier then asks a manager to approve with their PIN before it is sent.
 */
function ReasonDialog({
  api,
  manager,
  order,
  transition,
  busy,
  error,
  onConfirm,
  onClose,
}: {
  api: Api;
  /** The signed-in staff member may give money back themselves. */
  manager: boolean;
  order: OrderView;
  transition: "cancel" | "void";
  busy: boolean;
  error: string | null;
  onConfirm: (reason: string | undefined, approval: Approval | null) => Promise<"done" | "approval" | "failed">;
  onClose: () => void;
}) {
  const [reason, setReason] = useState("");
  const [step, setStep] = useState<"reason" | "approve">("reason");
  const isVoid = transition === "void";
  const money = (m: number) => formatMoney(m, order.totals.currency);
  const giveBack = order.paid - (order.refunded ?? 0);
  const verb = isVoid ? "Void" : "Cancel";
  const send = async (approval: Approval | null) => {
    // The node may know of a payment this till has not seen yet: then it asks for a manager too.
    if ((await onConfirm(reason.trim() || undefined, approval)) === "approval") setStep("approve");
  };
  const confirm = () => (giveBack > 0 && !manager ? setStep("approve") : send(null));

  if (step === "approve") {
    return (
      <Modal title={`Manager approval: ${verb.toLowerCase()} ${order.ticket}`} onClose={busy ? undefined : onClose}>
        {error && <p className="dialog-error">{error}</p>}
        <p>
          {order.ticket} was paid {money(order.paid)}. {isVoid ? "Voiding" : "Cancelling"} it gives {money(giveBack > 0 ? giveBack : order.paid)} back to
          the customer, so a manager approves with their PIN.
        </p>
        <ManagerApproval api={api} action="approve refunds" onApproved={(a) => void send(a)} />
        <div className="modal-actions">
          <button type="button" onClick={() => setStep("reason")} disabled={busy}>
            Back
          </button>
          <button type="button" onClick={onClose} disabled={busy}>
            Keep order
          </button>
        </div>
      </Modal>
    );
  }

  return (
    <Modal title={`${verb} order ${order.ticket}?`} onClose={busy ? undefined : onClose}>
      {error && <p className="dialog-error">{error}</p>}
      <p>
        {order.lines.map((l) => `${l.quantity}× ${l.name}`).join(", ")} — {money(order.totals.total)}
      </p>
      {giveBack > 0 && (
        <p className="warn-text" data-testid="refund-note">
          {order.channel === "online"
            ? `This order was paid ${money(order.paid)} online by card. The online payment service gives it back to the customer's card once it hears of this (at once, or when the internet is back).`
            : `This order was paid ${money(order.paid)}. The money goes back the way it came: cash from the drawer, a card payment refunded at the card terminal.`}
          {manager ? "" : " A manager approves this with their PIN."}
        </p>
      )}
      <label className="field">
        Reason{isVoid ? "" : " (optional)"}
        <input data-testid="reason" maxLength={200} value={reason} autoFocus onChange={(e) => setReason(e.target.value)} />
      </label>
      {isVoid && (
        <div className="quick">
          {VOID_REASONS.map((r) => (
            <button key={r} type="button" className={reason === r ? "on" : ""} onClick={() => setReason(r)}>
              {r}
            </button>
          ))}
        </div>
      )}
      <div className="modal-actions">
        <button type="button" onClick={onClose} disabled={busy}>
          Keep order
        </button>
        <button
          type="button"
          className="danger"
          data-testid={`confirm-${transition}`}
          disabled={busy || (isVoid && !reason.trim())}
          onClick={() => void confirm()}
        >
          {busy
            ? "Working…"
            : giveBack > 0
              ? manager
                ? `${verb} and refund ${money(giveBack)}`
                : "Next: manager approval"
              : `${verb} order`}
        </button>
      </div>
    </Modal>
  );
}

function where(o: OrderView): string {
  const parts: string[] = [];
  if (o.channel !== "pos") parts.push(o.channel === "kiosk" ? "Kiosk" : "Online");
  if (o.fulfillment === "dine_in") parts.push(o.table ? `Table ${o.table}` : "Dine in");
  else parts.push(o.fulfillment === "takeaway" ? "Takeaway" : "Pickup");
  if (o.customer_name) parts.push(o.customer_name);
  return parts.join(" · ");
}

function age(ms: number): string {
  const min = Math.floor(ms / 60_000);
  if (min < 1) return "just now";
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** The time, refreshed every `every` ms so ages on screen stay right. */
function useNow(every: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), every);
    return () => clearInterval(t);
  }, [every]);
  return now;
}
