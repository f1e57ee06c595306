// The pieces of the kitchen display: a ticket card, the all-day panel, the
// recall list and the wall clock. Sized to be read from across a kitchen.
import { Modal, type OrderView, type PricedLine } from "@edge/shared";
import { useEffect, useRef, useState } from "react";
import { EXPO, type ViewId, ageOf, elapsed, linesFor } from "./orders";

export interface Names {
  stations: Map<string, string>;
  groups: Map<string, string>;
}

const CHANNEL: Record<string, string> = { pos: "POS", kiosk: "KIOSK", online: "ONLINE" };
const FULFILLMENT: Record<string, string> = { dine_in: "Dine-in", takeaway: "Takeaway", pickup: "Pickup" };
const STATUS: Record<string, string> = {
  placed: "New",
  accepted: "Accepted",
  in_preparation: "Cooking",
  ready: "Ready",
  completed: "Handed out",
  cancelled: "Cancelled",
  voided: "Voided",
  refunded: "Refunded",
};

/** "Dine-in · Table 12", "Takeaway · Sam". */
function whereTo(o: OrderView): string {
  const parts = [FULFILLMENT[o.fulfillment] ?? o.fulfillment];
  if (o.table) parts.push(`Table ${o.table}`);
  if (o.customer_name) parts.push(o.customer_name);
  return parts.join(" · ");
}

/** "12:30": an order's pickup time on this screen's clock (the store's). */
function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/** A line's modifiers by group, in the order they were chosen: [["Doneness", "Medium"], ["Add-ons", "Bacon, Cheese"]]. */
function modifierGroups(line: PricedLine, names: Names): [string, string][] {
  const groups = new Map<string, string[]>();
  for (const m of line.modifiers) groups.set(m.group, [...(groups.get(m.group) ?? []), m.name]);
  return [...groups].map(([g, ms]) => [names.groups.get(g) ?? g, ms.join(", ")]);
}

function Line({ line, names, done }: { line: PricedLine; names: Names; done?: boolean }) {
  return (
    <li className={done ? "line done" : "line"}>
      <div className="line-main">
        <span className="qty">{line.quantity}×</span>
        <span className="item">{line.name}</span>
      </div>
      {modifierGroups(line, names).map(([g, ms]) => (
        <div key={g} className="mods">
          <span className="mod-group">{g}:</span> {ms}
        </div>
      ))}
      {line.note && <div className="note">⚠ {line.note}</div>}
    </li>
  );
}

/** The lines of a ticket: a station's own lines, or on Expo all lines by station with each station's progress. */
function Lines({ order, view, names }: { order: OrderView; view: ViewId; names: Names }) {
  if (view !== EXPO) {
    return (
      <ul className="lines">
        {linesFor(order, view).map((l, i) => (
          <Line key={i} line={l} names={names} />
        ))}
      </ul>
    );
  }
  const stations = [...new Set(order.lines.map((l) => l.station))];
  return (
    <div className="lines">
      {stations.map((s) => {
        const done = order.stations_done.includes(s);
        return (
          <section key={s} className={done ? "station-lines done" : "station-lines"}>
            <h4>
              {names.stations.get(s) ?? s}
              {done ? " — done ✓" : ""}
            </h4>
            <ul>
              {order.lines.map((l, i) => l.station === s && <Line key={i} line={l} names={names} done={done} />)}
            </ul>
          </section>
        );
      })}
    </div>
  );
}

/** "just now", "4 min ago", "2 h 5 min ago". */
function ago(ms: number, now: number): string {
  const min = Math.floor((now - ms) / 60_000);
  if (min < 1) return "just now";
  return min < 60 ? `${min} min ago` : `${Math.floor(min / 60)} h ${min % 60} min ago`;
}

export function TicketCard({
  order,
  view,
  names,
  now,
  position,
  selected,
  busy,
  onSelect,
  onBump,
}: {
  order: OrderView;
  view: ViewId;
  names: Names;
  now: number;
  /** 1-based place on the screen: the key that selects it. */
  position: number;
  selected: boolean;
  busy: boolean;
  onSelect: () => void;
  onBump: () => void;
}) {
  const age = ageOf(order.created_ms, now);
  const ref = useRef<HTMLElement>(null);
  // Keep the bump bar's cursor on screen.
  useEffect(() => {
    if (selected) ref.current?.scrollIntoView?.({ block: "nearest" });
  }, [selected]);
  return (
    <article
      ref={ref}
      className={`ticket age-${age}${selected ? " selected" : ""}`}
      data-testid={`ticket-${order.ticket}`}
      data-age={age}
      data-position={position}
      aria-current={selected ? "true" : undefined}
      onClick={onSelect}
    >
      <header className="ticket-head">
        <span className="ticket-pos" aria-label={`key ${position}`}>
          {position <= 9 ? position : ""}
        </span>
        <span className="ticket-no">{order.ticket}</span>
        <span className="ticket-time" data-testid="elapsed">
          {elapsed(order.created_ms, now)}
        </span>
      </header>
      <div className="ticket-meta">
        <span className={`channel channel-${order.channel}`}>{CHANNEL[order.channel] ?? order.channel}</span>
        <span className="where">{whereTo(order)}</span>
        {order.pickup_at ? (
          <span className="pickup" data-testid="pickup-at">
            Pickup {clock(order.pickup_at)}
          </span>
        ) : null}
        {view === EXPO && order.status !== "placed" && <span className="status">{STATUS[order.status] ?? order.status}</span>}
      </div>
      <Lines order={order} view={view} names={names} />
      {order.note && <div className="note order-note">⚠ {order.note}</div>}
      <button
        type="button"
        className="bump"
        data-testid={`bump-${order.ticket}`}
        disabled={busy}
        onClick={(e) => {
          e.stopPropagation();
          onBump();
        }}
      >
        {busy ? "Sending…" : view === EXPO ? "Order ready ✓" : "Bump ✓"}
      </button>
    </article>
  );
}

export function AllDayPanel({ counts, title }: { counts: { name: string; quantity: number }[]; title: string }) {
  return (
    <aside className="all-day" data-testid="all-day" aria-label="All-day counts">
      <h2>All day</h2>
      <p className="all-day-for">{title}</p>
      {counts.length === 0 ? (
        <p className="muted">Nothing to make.</p>
      ) : (
        <ul>
          {counts.map((c) => (
            <li key={c.name} data-testid="all-day-row" data-name={c.name}>
              <span className="all-day-qty">{c.quantity}</span>
              <span className="all-day-name">{c.name}</span>
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}

export interface RecallEntry {
  order: OrderView;
  /** When this screen bumped it, if it did. */
  bumpedMs?: number;
}

/** Tickets to look at again; on Expo a ready order can be handed out from here. */
export function RecallDialog({
  entries,
  view,
  names,
  now,
  busy,
  onComplete,
  onClose,
}: {
  entries: RecallEntry[];
  view: ViewId;
  names: Names;
  now: number;
  busy: Set<string>;
  onComplete?: (o: OrderView) => void;
  onClose: () => void;
}) {
  return (
    <Modal title={view === EXPO ? "Recall — bumped and ready orders" : "Recall — last bumped tickets"} onClose={onClose}>
      <div className="recall" data-testid="recall-list">
        {entries.length === 0 && <p className="muted big">Nothing bumped yet on this screen.</p>}
        {entries.map(({ order, bumpedMs }) => (
          <article key={order.id} className="recall-item" data-testid={`recall-${order.ticket}`}>
            <header>
              <span className="ticket-no">{order.ticket}</span>
              <span className={`status status-${order.status}`}>{STATUS[order.status] ?? order.status}</span>
              <span className="muted">
                {bumpedMs ? `bumped ${ago(bumpedMs, now)}` : `placed ${ago(order.created_ms, now)}`}
              </span>
            </header>
            <div className="ticket-meta">
              <span className={`channel channel-${order.channel}`}>{CHANNEL[order.channel] ?? order.channel}</span>
              <span className="where">{whereTo(order)}</span>
            </div>
            <Lines order={order} view={view} names={names} />
            {order.note && <div className="note order-note">⚠ {order.note}</div>}
            {onComplete && order.status === "ready" && (
              <button
                type="button"
                className="primary handout"
                data-testid={`complete-${order.ticket}`}
                disabled={busy.has(order.id)}
                onClick={() => onComplete(order)}
              >
                {busy.has(order.id) ? "Sending…" : "Handed out ✓"}
              </button>
            )}
          </article>
        ))}
      </div>
      <div className="modal-actions">
        <button type="button" className="big-button" onClick={onClose}>
          Close (Esc)
        </button>
      </div>
    </Modal>
  );
}

/** The time now, for the header and for ticket ages; ticks every second. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function Clock({ now }: { now: number }) {
  return (
    <time className="clock" dateTime={new Date(now).toISOString()}>
      {new Date(now).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" })}
    </time>
  );
}
