// The kitchen display: sign in, pick a station (or Expo), and bump tickets as
// they are done — by touch or with a bump bar / keyboard (1–9 select,
// Enter/Space bump, arrows move, R recall).
import "./kds.css";
import {
  type Api,
  ErrorBanner,
  LinkBadge,
  type OrderView,
  SignIn,
  call,
  describe,
  newKey,
  useMenu,
  useSession,
} from "@edge/shared";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { AllDayPanel, Clock, type Names, RecallDialog, type RecallEntry, TicketCard, useNow } from "./Ticket";
import { EXPO, type ViewId, allDay, concerns, ticketsFor, useRecall, useTickets } from "./orders";

const ROLES = ["kitchen", "manager", "owner", "cashier"];
const VIEW_KEY = "edge.kds.station";
/** Narrowest ticket column, px (four across next to the all-day panel on a 1920 px screen). */
const TICKET_WIDTH = 370;

export function App() {
  const { session, api, signIn, signOut, onError } = useSession("kds");
  if (!session) return <SignIn title="Kitchen display — sign in" api={api} roles={ROLES} signIn={signIn} />;
  return (
    <Kitchen
      key={session.token}
      api={api}
      token={session.token}
      staffName={session.staff.name}
      onError={onError}
      signOut={signOut}
    />
  );
}

/** A request we may retry: the same Idempotency-Key until the server has answered. */
function settled(e: unknown): boolean {
  const status = (e as { status?: number }).status ?? 0;
  return status >= 400 && status < 500;
}

function Kitchen({
  api,
  token,
  staffName,
  onError,
  signOut,
}: {
  api: Api;
  token: string;
  staffName: string;
  onError: (e: unknown) => void;
  signOut: () => Promise<void>;
}) {
  const tickets = useTickets({ api, token, onError });
  const { menu, error: menuError } = useMenu(api, true, tickets.menuVersion);
  const now = useNow();
  const [error, setError] = useState<string | null>(null);
  const [menuDismissed, setMenuDismissed] = useState<string | null>(null);

  // The view: a station id or Expo, remembered on this screen.
  const [view, setViewState] = useState<ViewId>(() => localStorage.getItem(VIEW_KEY) ?? EXPO);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const lastIndex = useRef(0);
  const setView = useCallback((v: ViewId) => {
    localStorage.setItem(VIEW_KEY, v);
    setViewState(v);
    setSelectedId(null);
    lastIndex.current = 0;
  }, []);
  const stations = useMemo(() => menu?.menu.stations ?? [], [menu]);
  useEffect(() => {
    if (menu && view !== EXPO && !stations.some((s) => s.id === view)) setView(EXPO);
  }, [menu, stations, view, setView]);

  const names: Names = useMemo(
    () => ({
      stations: new Map(stations.map((s) => [s.id, s.name])),
      groups: new Map((menu?.menu.modifier_groups ?? []).map((g) => [g.id, g.name])),
    }),
    [menu, stations],
  );
  const viewName = view === EXPO ? "Expo" : (names.stations.get(view) ?? view);

  // tickets.orders is one mutable Map; tickets.tick says when it changed.
  const shown = useMemo(() => ticketsFor(tickets.orders, view), [tickets.orders, tickets.tick, view]);
  const perView = useMemo(() => {
    const n = new Map<ViewId, number>([[EXPO, ticketsFor(tickets.orders, EXPO).length]]);
    for (const s of stations) n.set(s.id, ticketsFor(tickets.orders, s.id).length);
    return n;
  }, [tickets.orders, tickets.tick, stations]);
  const counts = useMemo(() => allDay(shown, view), [shown, view]);

  // Selection: by order id; when the selected ticket leaves, the one taking its place is selected.
  let selIndex = shown.findIndex((o) => o.id === selectedId);
  if (selIndex < 0) selIndex = shown.length ? Math.min(lastIndex.current, shown.length - 1) : -1;
  else lastIndex.current = selIndex;
  const selected = selIndex >= 0 ? shown[selIndex] : undefined;

  // Bumps and hand-outs: one request per order at a time, retried with the same key.
  const [busy, setBusy] = useState<Set<string>>(new Set());
  const inFlight = useRef(new Set<string>());
  const keys = useRef(new Map<string, string>());
  const recall = useRecall(view);

  const send = useCallback(
    async (o: OrderView, action: "done" | "ready" | "complete", forView: ViewId): Promise<OrderView | null> => {
      if (inFlight.current.has(o.id)) return null;
      inFlight.current.add(o.id);
      setBusy(new Set(inFlight.current));
      const what = `${action} ${o.id} ${forView}`;
      const key = keys.current.get(what) ?? newKey();
      keys.current.set(what, key);
      const headers = { "Idempotency-Key": key };
      try {
        const r =
          action === "done"
            ? await call(
                api.POST("/api/v1/orders/{id}/stations/{station}/done", {
                  params: { path: { id: o.id, station: forView } },
                  headers,
                }),
              )
            : await call(
                api.POST("/api/v1/orders/{id}/{transition}", { params: { path: { id: o.id, transition: action } }, headers }),
              );
        keys.current.delete(what);
        tickets.applyResponse(r);
        return r;
      } catch (e) {
        if (settled(e)) keys.current.delete(what);
        const verb = action === "complete" ? "hand out" : "bump";
        setError(`Could not ${verb} ticket ${o.ticket}: ${describe(e)}`);
        onError(e);
        return null;
      } finally {
        inFlight.current.delete(o.id);
        setBusy(new Set(inFlight.current));
      }
    },
    [api, onError, tickets.applyResponse],
  );

  const bump = useCallback(
    async (o: OrderView) => {
      const forView = view;
      const r = await send(o, forView === EXPO ? "ready" : "done", forView);
      if (r) recall.add(forView, r);
    },
    [view, send, recall],
  );

  // Recall: what this screen bumped; on Expo also every order waiting to be handed out.
  const [recallOpen, setRecallOpen] = useState(false);
  const recallEntries: RecallEntry[] = useMemo(() => {
    const byId = new Map<string, RecallEntry & { sort: number }>();
    for (const b of recall.list) {
      byId.set(b.id, { order: tickets.orders.get(b.id) ?? b.order, bumpedMs: b.at_ms, sort: b.at_ms });
    }
    if (view === EXPO) {
      for (const o of tickets.orders.values()) {
        if (o.status === "ready" && !byId.has(o.id)) byId.set(o.id, { order: o, sort: o.updated_ms });
      }
    }
    return [...byId.values()].sort((a, b) => b.sort - a.sort);
  }, [recall.list, tickets.orders, tickets.tick, view]);

  // Bump bar / keyboard.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
      if (recallOpen) return; // the dialog handles Escape
      if (/^[1-9]$/.test(e.key)) {
        const o = shown[Number(e.key) - 1];
        if (o) setSelectedId(o.id);
        e.preventDefault();
      } else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        if (!shown.length) return;
        const i = Math.max(0, Math.min(shown.length - 1, selIndex + (e.key === "ArrowRight" ? 1 : -1)));
        setSelectedId(shown[i].id);
        e.preventDefault();
      } else if (e.key === "Enter" || e.key === " ") {
        if (!selected) return;
        e.preventDefault();
        void bump(selected);
      } else if (e.key === "r" || e.key === "R") {
        setRecallOpen(true);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [shown, selIndex, selected, bump, recallOpen]);

  // The link: a first connection is "connecting"; losing it later is a reconnect.
  const wasLive = useRef(false);
  if (tickets.status === "live") wasLive.current = true;
  const linkBanner =
    tickets.status === "live"
      ? null
      : wasLive.current || tickets.status === "offline"
        ? "Reconnecting to the store server — tickets may be delayed"
        : "Connecting to the store server…";

  // Tickets that do not fit on the screen: say how many, so none is forgotten below the fold.
  const boardRef = useRef<HTMLElement>(null);
  const [below, setBelow] = useState(0);
  const [cols, setCols] = useState(4);
  const measureBelow = useCallback(() => {
    const b = boardRef.current;
    if (!b) return;
    setCols(Math.max(1, Math.floor((b.clientWidth - 32 + 16) / (TICKET_WIDTH + 16))));
    const bottom = b.scrollTop + b.clientHeight;
    let n = 0;
    for (const el of b.querySelectorAll<HTMLElement>(".ticket")) if (el.offsetTop + el.offsetHeight > bottom + 4) n++;
    setBelow(n);
  }, []);
  useLayoutEffect(measureBelow);
  useEffect(() => {
    const b = boardRef.current;
    if (!b) return;
    const ro = new ResizeObserver(measureBelow);
    ro.observe(b);
    return () => ro.disconnect();
  }, [measureBelow]);

  const notices = tickets.notices.filter((n) => concerns(n.order, view));

  return (
    <div className="kds">
      <header className="kds-head">
        <span className="brand">Kitchen</span>
        <nav className="views" aria-label="Station">
          {stations.map((s) => (
            <button
              key={s.id}
              type="button"
              data-testid={`station-${s.id}`}
              aria-pressed={view === s.id}
              className={view === s.id ? "view on" : "view"}
              onClick={() => setView(s.id)}
            >
              {s.name} <span className="view-count">{perView.get(s.id) ?? 0}</span>
            </button>
          ))}
          <button
            type="button"
            data-testid="station-all"
            aria-pressed={view === EXPO}
            className={view === EXPO ? "view on" : "view"}
            onClick={() => setView(EXPO)}
          >
            Expo <span className="view-count">{perView.get(EXPO) ?? 0}</span>
          </button>
        </nav>
        <span className="spacer" />
        <button type="button" className="recall-button" data-testid="recall" onClick={() => setRecallOpen(true)}>
          Recall (R)
        </button>
        <LinkBadge status={tickets.status} />
        <Clock now={now} />
        <span className="who">
          {staffName}
          <button type="button" className="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </span>
      </header>

      {linkBanner && (
        <div className={`link-banner link-${tickets.status}`} role="status" data-testid="link-banner">
          {linkBanner}
        </div>
      )}
      <div className="banners">
        <ErrorBanner error={error} onDismiss={() => setError(null)} />
        <ErrorBanner error={tickets.loadError} onDismiss={tickets.clearLoadError} />
        <ErrorBanner
          error={menuError && menuError !== menuDismissed ? `Could not load the menu: ${menuError}` : null}
          onDismiss={() => setMenuDismissed(menuError)}
        />
        {notices.map((n) => (
          <div key={n.key} className="notice" role="alert" data-testid="notice">
            <span>{n.text}</span>
            <button type="button" onClick={() => tickets.dismissNotice(n.key)} aria-label="Dismiss">
              ✕
            </button>
          </div>
        ))}
      </div>

      <div className="kds-body">
        <div className="board-wrap">
          <main className="board" ref={boardRef} onScroll={measureBelow} aria-label={`${viewName} tickets`} data-testid="board">
            {shown.length === 0 ? (
              <p className="empty">{tickets.caughtUp ? `No tickets for ${viewName}. All caught up.` : "Loading tickets…"}</p>
            ) : (
              // Ticket n goes to column n mod cols: oldest across the top, read left to right, no gaps under short tickets.
              Array.from({ length: cols }, (_, c) => (
                <div key={c} className="board-col">
                  {shown.map(
                    (o, i) =>
                      i % cols === c && (
                        <TicketCard
                          key={o.id}
                          order={o}
                          view={view}
                          names={names}
                          now={now}
                          position={i + 1}
                          selected={i === selIndex}
                          busy={busy.has(o.id)}
                          onSelect={() => setSelectedId(o.id)}
                          onBump={() => void bump(o)}
                        />
                      ),
                  )}
                </div>
              ))
            )}
          </main>
          {below > 0 && (
            <div className="more-below" data-testid="more-below">
              ▼ {below} {below === 1 ? "ticket continues" : "tickets continue"} below — scroll or press →
            </div>
          )}
        </div>
        <div className="side">
          <AllDayPanel counts={counts} title={viewName} />
          <ul className="keys" aria-label="Keys">
            <li>
              <kbd>1</kbd>–<kbd>9</kbd> select a ticket
            </li>
            <li>
              <kbd>Enter</kbd>/<kbd>Space</kbd> bump it
            </li>
            <li>
              <kbd>←</kbd>
              <kbd>→</kbd> move · <kbd>R</kbd> recall
            </li>
          </ul>
        </div>
      </div>

      {recallOpen && (
        <RecallDialog
          entries={recallEntries}
          view={view}
          names={names}
          now={now}
          busy={busy}
          onComplete={view === EXPO ? (o) => void send(o, "complete", EXPO) : undefined}
          onClose={() => setRecallOpen(false)}
        />
      )}
    </div>
  );
}
