// The kitchen's picture of the store's orders, built from the live event stream.
//
// Every order.created / order.changed / payment.recorded event carries the full
// current order, so the store keeps one Map by order id and replaces the entry
// on each event. A GET /orders snapshot fills the screen quickly on start, but it
// never overrides what the stream has said, and HTTP answers (after a bump) only
// count when they are newer than what we hold: a ticket is neither missed nor
// shown twice, whatever order the answers arrive in.
import {
  type Api,
  type LinkStatus,
  type OrderView,
  type StoreEvent,
  call,
  describe,
  useEventStream,
} from "@edge/shared";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

/** Still being cooked: shown on the station views and the Expo board. */
export const COOKING = new Set(["placed", "accepted", "in_preparation"]);
const CLOSED = new Set(["completed", "cancelled", "voided", "refunded"]);
/** Closed orders are kept this long (for Recall), then only their last update time is remembered. */
const KEEP_CLOSED_MS = 2 * 60 * 60 * 1000;

/** "all" is the Expo view (whole orders); anything else is a station id. */
export type ViewId = string;
export const EXPO: ViewId = "all";

export interface Notice {
  key: string;
  order: OrderView;
  text: string;
}

type Source = "stream" | "snapshot" | "response";

export function useTickets({ api, token, onError }: { api: Api; token: string | null; onError: (e: unknown) => void }) {
  const orders = useRef(new Map<string, OrderView>());
  /** updated_ms of closed orders we dropped, so a late snapshot cannot bring them back. */
  const gone = useRef(new Map<string, number>());
  const caughtUpRef = useRef(false);
  const [tick, setTick] = useState(0);
  const [caughtUp, setCaughtUp] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [menuVersion, setMenuVersion] = useState(0);
  const [notices, setNotices] = useState<Notice[]>([]);

  // A replayed backlog can be thousands of events: render once per batch, not per event.
  const flushTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const scheduleRender = useCallback(() => {
    if (flushTimer.current !== undefined) return;
    flushTimer.current = setTimeout(() => {
      flushTimer.current = undefined;
      setTick((t) => t + 1);
    }, 16);
  }, []);
  useEffect(() => () => clearTimeout(flushTimer.current), []);

  const put = useCallback(
    (o: OrderView, source: Source) => {
      const map = orders.current;
      const known = map.get(o.id)?.updated_ms ?? gone.current.get(o.id);
      // The stream is the ordered truth; other sources only fill gaps or bring something newer.
      if (known !== undefined) {
        if (source === "snapshot") return;
        if (source === "response" && o.updated_ms <= known) return;
      }
      const before = map.get(o.id);
      if (CLOSED.has(o.status) && Date.now() - o.updated_ms > KEEP_CLOSED_MS) {
        map.delete(o.id);
        gone.current.set(o.id, o.updated_ms);
      } else {
        map.set(o.id, o);
        gone.current.delete(o.id);
      }
      // Tell the cooks when a ticket they may be making is taken back.
      if (source === "stream" && caughtUpRef.current && before && COOKING.has(before.status)) {
        if (o.status === "cancelled" || o.status === "voided") {
          const text = `Ticket ${o.ticket} was ${o.status} — stop making it.`;
          setNotices((n) => [...n.filter((x) => x.order.id !== o.id), { key: `${o.id}:${o.status}`, order: o, text }]);
        }
      }
      scheduleRender();
    },
    [scheduleRender],
  );

  const onEvent = useCallback(
    (e: StoreEvent) => {
      if (e.type === "menu.changed") {
        const v = Number((e.data as { version?: number }).version ?? 0);
        setMenuVersion((cur) => Math.max(cur, v));
        return;
      }
      const order = (e.data as { order?: OrderView }).order;
      if (order && typeof order.id === "string") put(order, "stream");
    },
    [put],
  );

  const onCaughtUp = useCallback(() => {
    caughtUpRef.current = true;
    setCaughtUp(true);
    scheduleRender();
  }, [scheduleRender]);

  // The node's log was replaced: drop every ticket built from the old one; the new log replays next.
  const onReset = useCallback(() => {
    orders.current.clear();
    gone.current.clear();
    caughtUpRef.current = false;
    setCaughtUp(false);
    setNotices([]);
    scheduleRender();
  }, [scheduleRender]);

  const status: LinkStatus = useEventStream({ token, onEvent, onCaughtUp, onReset });

  // Until the stream has replayed, show the open orders straight away.
  const load = useCallback(async () => {
    try {
      const r = await call(
        api.GET("/api/v1/orders", { params: { query: { status: "placed,accepted,in_preparation,ready", limit: 500 } } }),
      );
      for (const o of r.orders) put(o, "snapshot");
      setLoadError(null);
    } catch (e) {
      setLoadError(`Could not load the open tickets: ${describe(e)}`);
      onError(e);
    }
  }, [api, put, onError]);
  useEffect(() => {
    if (token) void load();
  }, [token, load]);

  // If the link keeps failing, the session may have expired: ask once, and sign out on a 401.
  useEffect(() => {
    if (status !== "offline" || !token) return;
    call(api.GET("/api/v1/auth/me")).catch(onError);
  }, [status, token, api, onError]);

  const applyResponse = useCallback((o: OrderView) => put(o, "response"), [put]);
  const dismissNotice = useCallback((key: string) => setNotices((n) => n.filter((x) => x.key !== key)), []);

  return {
    /** Changes whenever the map does; use as a memo dependency. */
    tick,
    orders: orders.current,
    status,
    caughtUp,
    loadError,
    clearLoadError: () => setLoadError(null),
    reload: load,
    menuVersion,
    notices,
    dismissNotice,
    applyResponse,
  };
}

/** The tickets a view shows, oldest first. A station sees orders it has not bumped yet. */
export function ticketsFor(orders: Map<string, OrderView>, view: ViewId): OrderView[] {
  const out: OrderView[] = [];
  for (const o of orders.values()) {
    if (!COOKING.has(o.status)) continue;
    if (view !== EXPO && (o.stations_done.includes(view) || !o.lines.some((l) => l.station === view))) continue;
    out.push(o);
  }
  return out.sort((a, b) => a.created_ms - b.created_ms || a.ticket.localeCompare(b.ticket));
}

/** The lines of an order that a view shows. */
export function linesFor(o: OrderView, view: ViewId) {
  return view === EXPO ? o.lines : o.lines.filter((l) => l.station === view);
}

/** Whether a ticket belongs on a view at all (for cancellation notices). */
export function concerns(o: OrderView, view: ViewId): boolean {
  return view === EXPO || (o.lines.some((l) => l.station === view) && !o.stations_done.includes(view));
}

/** All-day counts: quantity per item name over the shown tickets, most first. */
export function allDay(tickets: OrderView[], view: ViewId): { name: string; quantity: number }[] {
  const sums = new Map<string, number>();
  for (const o of tickets) for (const l of linesFor(o, view)) sums.set(l.name, (sums.get(l.name) ?? 0) + l.quantity);
  return [...sums]
    .map(([name, quantity]) => ({ name, quantity }))
    .sort((a, b) => b.quantity - a.quantity || a.name.localeCompare(b.name));
}

export type Age = "fresh" | "warn" | "late";

/** Under 5 minutes normal, 5 to 10 amber, over 10 red. */
export function ageOf(createdMs: number, now: number): Age {
  const min = (now - createdMs) / 60_000;
  return min >= 10 ? "late" : min >= 5 ? "warn" : "fresh";
}

/** "4:07", or "1:04:07" past an hour. */
export function elapsed(createdMs: number, now: number): string {
  const s = Math.max(0, Math.floor((now - createdMs) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export interface Bumped {
  id: string;
  ticket: string;
  at_ms: number;
  /** The order as it was when bumped; the live copy is used when we still have it. */
  order: OrderView;
}

const RECALL_MAX = 10;

function loadRecall(view: ViewId): Bumped[] {
  try {
    const v = JSON.parse(localStorage.getItem(`edge.kds.recall.${view}`) ?? "[]") as Bumped[];
    return Array.isArray(v) ? v.slice(0, RECALL_MAX) : [];
  } catch {
    return [];
  }
}

/** The last 10 tickets this screen bumped on a view, newest first, kept in localStorage. */
export function useRecall(view: ViewId) {
  const [all, setAll] = useState<Record<ViewId, Bumped[]>>({});
  const list = useMemo(() => all[view] ?? loadRecall(view), [all, view]);
  const add = useCallback((forView: ViewId, order: OrderView) => {
    setAll((cur) => {
      const prev = cur[forView] ?? loadRecall(forView);
      const entry: Bumped = { id: order.id, ticket: order.ticket, at_ms: Date.now(), order };
      const next = [entry, ...prev.filter((b) => b.id !== order.id)].slice(0, RECALL_MAX);
      try {
        localStorage.setItem(`edge.kds.recall.${forView}`, JSON.stringify(next));
      } catch {
        // Storage full or blocked: recall still works until the page reloads.
      }
      return { ...cur, [forView]: next };
    });
  }, []);
  return useMemo(() => ({ list, add }), [list, add]);
}
