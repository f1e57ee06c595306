// The POS till: sign-in for counter staff, then the menu, the cart and today's
// open orders side by side, kept live from the store node's event stream.
// This file owns the till's state and the actions that talk to the server
// (place, pay, discounts) and the device list behind the header's Devices
// button; the panels in Menu/Cart/OpenOrders/Payment/Devices draw it.
import "./pos.css";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  type Api,
  ApiError,
  ErrorBanner,
  type Item,
  LinkBadge,
  ModifierDialog,
  type OrderView,
  type PaymentResult,
  type PricedOrder,
  type PrintJob,
  type Session,
  SignIn,
  type StoreEvent,
  call,
  describe,
  formatMoney,
  useDevices,
  useEventStream,
  useMenu,
  useSession,
  HubBadge,
} from "@edge/shared";
import { endApproval } from "./Approval";
import { type CartAction, CartPanel, DiscountDialog } from "./Cart";
import { DevicesButton, DevicesPanel } from "./Devices";
import { MenuPanel } from "./Menu";
import {
  type Cart,
  type DiscountDraft,
  OPEN_STATUSES,
  addLine,
  emptyCart,
  estimate,
  isOpen,
  loadCart,
  saveCart,
  toCartLine,
  toDraft,
  useIdempotency,
} from "./model";
import { OpenOrders } from "./OpenOrders";
import { CardDialog, CashDialog, PaidScreen } from "./Payment";

const ROLES = ["owner", "manager", "cashier"];

export function App() {
  const { session, api, signIn, signOut, onError } = useSession("pos");
  if (!session || !ROLES.includes(session.staff.role)) {
    return <SignIn title="POS — sign in" api={api} roles={ROLES} signIn={signIn} />;
  }
  return <Till key={session.token} session={session} api={api} signOut={signOut} onError={onError} />;
}

const startOfToday = () => new Date().setHours(0, 0, 0, 0);

/** Wide screens show menu, open orders and cart side by side (keep in step with pos.css). */
const WIDE = "(min-width: 1680px)";

function useMediaQuery(query: string): boolean {
  const [on, setOn] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const m = matchMedia(query);
    const update = () => setOn(m.matches);
    update();
    m.addEventListener("change", update);
    return () => m.removeEventListener("change", update);
  }, [query]);
  return on;
}

function Till({
  session,
  api,
  signOut,
  onError,
}: {
  session: Session;
  api: Api;
  signOut: () => Promise<void>;
  onError: (e: unknown) => void;
}) {
  const role = session.staff.role;
  const keys = useIdempotency();
  // Menu reloads: `menuTick` moves on when a newer menu is announced (the node answers with at least that version).
  const [menuTick, setMenuTick] = useState(0);
  const { menu: menuView, error: menuError } = useMenu(api, true, menuTick, onError);
  const menu = menuView?.menu ?? null;

  const [cart, setCart] = useState<Cart>(loadCart);
  const [placed, setPlaced] = useState<OrderView | null>(null);
  const [busy, setBusy] = useState<CartAction | null>(null);
  const [picking, setPicking] = useState<Item | null>(null);
  const [discounting, setDiscounting] = useState(false);
  const [cashFor, setCashFor] = useState<OrderView | null>(null);
  /** The cart's price, while the cashier takes cash for it (placed only on confirm). */
  const [cashQuote, setCashQuote] = useState<PricedOrder | null>(null);
  const [cardFor, setCardFor] = useState<OrderView | null>(null);
  const [paid, setPaid] = useState<PaymentResult | null>(null);
  const [orders, setOrders] = useState<ReadonlyMap<string, OrderView>>(new Map());
  const [ordersReady, setOrdersReady] = useState(false);
  const ordersLoaded = useRef(false);
  const [view, setView] = useState<"menu" | "orders">("menu");
  const wide = useMediaQuery(WIDE);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [toast, setToast] = useState<string | null>(null);
  const [showDevices, setShowDevices] = useState(false);
  // Moves on when print jobs or devices changed (a notice, or a reconnect): the open panel re-reads its failed jobs.
  const [printTick, setPrintTick] = useState(0);
  const { devices, error: devicesError, reload: reloadDevices, applyNotice } = useDevices(api, true, onError);

  // A placed order lives on the server (and in Open orders), so it is not kept as a draft to place again.
  useEffect(() => saveCart(placed ? emptyCart : cart), [cart, placed]);
  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(() => setNotice(null), 8000);
    return () => clearTimeout(t);
  }, [notice]);
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), 6000);
    return () => clearTimeout(t);
  }, [toast]);

  const fail = useCallback(
    (e: unknown) => {
      onError(e);
      setError(describe(e));
    },
    [onError],
  );

  // ---- Today's orders, replaced by id and never by an older copy ----
  const upsert = useCallback((list: OrderView[]) => {
    const today = startOfToday();
    setOrders((prev) => {
      let next: Map<string, OrderView> | null = null;
      for (const o of list) {
        const cur = (next ?? prev).get(o.id);
        if (o.created_ms < today || (cur && cur.updated_ms > o.updated_ms)) continue;
        next ??= new Map(prev);
        next.set(o.id, o);
      }
      return next ?? prev;
    });
    setPlaced((p) => list.find((o) => o.id === p?.id && o.updated_ms >= p.updated_ms) ?? p);
  }, []);

  const loadOrders = useCallback(async () => {
    try {
      const r = await call(
        api.GET("/api/v1/orders", {
          params: { query: { status: OPEN_STATUSES.join(","), since_ms: startOfToday(), limit: 500 } },
        }),
      );
      upsert(r.orders);
      ordersLoaded.current = true;
      setOrdersReady(true);
    } catch (e) {
      fail(e);
    }
  }, [api, upsert, fail]);

  useEffect(() => {
    void loadOrders();
  }, [loadOrders]);

  const caughtUpOnce = useRef(false);
  const link = useEventStream({
    token: session.token,
    onEvent: (e: StoreEvent) => {
      if (e.type === "menu.changed") {
        const v = Number(e.data.version);
        if (menuView && v > menuView.version) setMenuTick((n) => n + 1); // (a first load is on its way otherwise)
        return;
      }
      const o = e.data.order as OrderView | undefined;
      if (o && typeof o === "object" && typeof o.id === "string") upsert([o]);
    },
    // Another node's log (the node was replaced): its orders are the only ones; the replay and the re-read follow.
    onReset: () => setOrders(new Map()),
    // After a reconnect (or when the first read failed), re-read the lists: the server's answer is the truth.
    onCaughtUp: () => {
      if (caughtUpOnce.current || !ordersLoaded.current) void loadOrders();
      if (caughtUpOnce.current) {
        void reloadDevices();
        setPrintTick((n) => n + 1);
      }
      caughtUpOnce.current = true;
    },
    // Device health and print jobs come as notices (no cursor): patch or re-read, never poll.
    onNotice: (n) => {
      if (!applyNotice(n) || n.type === "device.status") return;
      setPrintTick((t) => t + 1);
      if (n.type === "print.job" && n.data.state === "dead") {
        setToast(`Printing failed: ${String(n.data.label ?? "a print job")}. See Devices.`);
      }
    },
  });

  const openOrders = useMemo(
    () =>
      [...orders.values()]
        .filter((o) => isOpen(o) && o.created_ms >= startOfToday())
        .sort((a, b) => Number(b.status === "ready") - Number(a.status === "ready") || a.created_ms - b.created_ms),
    [orders],
  );
  const readyCount = openOrders.filter((o) => o.status === "ready").length;

  // ---- Manager approval tokens: used for one order, then signed out ----
  const releaseApproval = useCallback((d: DiscountDraft | null) => endApproval(api, d?.approval), [api]);

  // ---- Cart actions ----
  const pick = (item: Item) => {
    if (!menu || busy) return; // the cart is being sent: nothing may slip in unsent
    if (placed) {
      setNotice(`Order ${placed.ticket} is already placed. Take payment or keep it as an open tab first.`);
      return;
    }
    if ((item.modifier_groups?.length ?? 0) === 0) {
      setCart((c) => ({ ...c, lines: addLine(c.lines, toCartLine(menu, item, { item_id: item.id, quantity: 1, modifiers: [] })) }));
    } else setPicking(item);
  };

  const newOrder = () => {
    releaseApproval(cart.discount);
    keys.forget("place");
    setCart(emptyCart);
    setPlaced(null);
  };

  /** Places the cart (once: a placed cart is reused), with the manager's approval when a cashier discounts. */
  const place = async (): Promise<OrderView> => {
    if (placed) return placed;
    const body = toDraft(cart);
    const approval = cart.discount?.approval?.token;
    let order: OrderView;
    try {
      order = await keys.run("place", body, (key) =>
        call(api.POST("/api/v1/orders", { params: { header: { "Idempotency-Key": key, "X-Manager-Approval": approval } }, body })),
      );
    } catch (e) {
      if (approval && e instanceof ApiError && e.code === "forbidden") {
        releaseApproval(cart.discount);
        setCart((c) => ({ ...c, discount: null }));
        throw new ApiError(
          403,
          "forbidden",
          "The manager's approval ran out (it lasts two minutes), so the discount was taken off. Add it again with the manager.",
        );
      }
      throw e;
    }
    releaseApproval(cart.discount);
    setCart((c) => ({ ...c, discount: c.discount && { ...c.discount, approval: null } }));
    upsert([order]);
    return order;
  };

  const act = async (what: CartAction, run: () => Promise<void>) => {
    setBusy(what);
    setError(null);
    try {
      await run();
    } catch (e) {
      fail(e);
    } finally {
      setBusy(null);
    }
  };

  const send = () =>
    act("send", async () => {
      const o = await place();
      setCart(emptyCart);
      setPlaced(null);
      setNotice(`${o.ticket} sent to the kitchen — ${formatMoney(o.totals.total, o.totals.currency)}, unpaid (see Open orders).`);
    });

  /** Prices the cart; it is placed (and fired to the kitchen) only when the cashier confirms the cash. */
  const payCash = () =>
    act("cash", async () => {
      setCashQuote(await call(api.POST("/api/v1/orders/quote", { body: toDraft(cart) })));
    });

  /** Places the cart if needed, then the card dialog asks the terminal. */
  const payCard = () =>
    act("card", async () => {
      const o = await place();
      setPlaced(o);
      setCardFor(o);
    });

  const receiptSent = (job: PrintJob) => setToast(`Receipt sent to the printer (${job.label}).`);

  const paidDone = () => {
    if (paid && paid.order.id === placed?.id) newOrder();
    setPaid(null);
  };

  const est = estimate(cart);

  return (
    <div className="till">
      <header className="topbar">
        <div className="brand">POS</div>
        <div className="who">
          <strong data-testid="signed-in">{session.staff.name}</strong>
          <span className="role">{role}</span>
        </div>
        <div className="status-line">
          <LinkBadge status={link} />
          <HubBadge api={api} />
        </div>
        <DevicesButton
          devices={devices}
          onOpen={() => {
            void reloadDevices();
            setPrintTick((n) => n + 1);
            setShowDevices(true);
          }}
        />
        <button
          type="button"
          className="signout"
          onClick={() => {
            releaseApproval(cart.discount);
            void signOut();
          }}
        >
          Sign out
        </button>
      </header>

      <div className="messages">
        <ErrorBanner error={error} onDismiss={() => setError(null)} />
        {notice && (
          <div className="notice" role="status">
            <span>{notice}</span>
            <button type="button" aria-label="Dismiss" onClick={() => setNotice(null)}>
              ✕
            </button>
          </div>
        )}
      </div>

      <main className={`till-main view-${view}`}>
        <nav className="view-switch" aria-label="Show">
          <button type="button" className={view === "menu" ? "on" : ""} aria-pressed={view === "menu"} onClick={() => setView("menu")}>
            Menu
          </button>
          <button
            type="button"
            data-testid="show-open-orders"
            className={view === "orders" ? "on" : ""}
            aria-pressed={view === "orders"}
            onClick={() => setView("orders")}
          >
            Open orders <span className="count">{openOrders.length}</span>
            {readyCount > 0 && <span className="count ready">{readyCount} ready</span>}
          </button>
        </nav>
        {menu ? (
          <MenuPanel menu={menu} stale={menuError} onPick={pick} />
        ) : (
          <section className="menu-panel loading" role={menuError ? "alert" : undefined}>
            {menuError ?? "Loading the menu…"}
          </section>
        )}
        <OpenOrders
          api={api}
          keys={keys}
          role={role}
          orders={openOrders}
          loading={!ordersReady}
          compact={!wide && view === "menu"}
          onExpand={() => setView("orders")}
          onPay={(o) => setCashFor(o)}
          onPayCard={(o) => setCardFor(o)}
          onReceiptSent={receiptSent}
          onChanged={(o) => upsert([o])}
          onError={onError}
        />
        {menu && (
          <CartPanel
            menu={menu}
            cart={cart}
            setCart={setCart}
            placed={placed}
            busy={busy}
            onSend={send}
            onPayCash={() => (placed ? setCashFor(placed) : payCash())}
            onPayCard={payCard}
            onDiscount={() => setDiscounting(true)}
            onRemoveDiscount={() => {
              releaseApproval(cart.discount);
              setCart((c) => ({ ...c, discount: null }));
            }}
            onNewOrder={newOrder}
          />
        )}
      </main>

      {picking && menu && (
        <ModifierDialog
          menu={menu}
          item={picking}
          onAdd={(line) => {
            setCart((c) => ({ ...c, lines: addLine(c.lines, toCartLine(menu, picking, line)) }));
            setPicking(null);
          }}
          onCancel={() => setPicking(null)}
        />
      )}
      {discounting && menu && (
        <DiscountDialog
          api={api}
          role={role}
          currency={menu.currency}
          subtotal={est.subtotal}
          onApply={(d) => {
            releaseApproval(cart.discount);
            setCart((c) => ({ ...c, discount: d }));
            setDiscounting(false);
          }}
          onClose={() => setDiscounting(false)}
        />
      )}
      {(cashFor || cashQuote) && (
        <CashDialog
          api={api}
          keys={keys}
          order={cashFor && (orders.get(cashFor.id) ?? cashFor)}
          quote={cashQuote}
          place={async () => {
            const o = await place();
            setPlaced(o);
            setCashFor(o);
            return o;
          }}
          onPaid={(r) => {
            upsert([r.order]);
            setCashFor(null);
            setCashQuote(null);
            setPaid(r);
          }}
          onClose={() => {
            setCashFor(null);
            setCashQuote(null);
          }}
          onError={onError}
        />
      )}
      {cardFor && (
        <CardDialog
          api={api}
          keys={keys}
          order={cardFor}
          onPaid={(r) => {
            upsert([r.order]);
            setCardFor(null);
            setPaid(r);
          }}
          onCash={() => {
            setCashFor(cardFor);
            setCardFor(null);
          }}
          onClose={() => setCardFor(null)}
          onError={onError}
        />
      )}
      {paid && (
        <PaidScreen
          api={api}
          keys={keys}
          result={paid}
          onDone={paidDone}
          doneLabel={paid.order.id === placed?.id ? "New order" : "Done"}
          onReceiptSent={receiptSent}
          onError={onError}
        />
      )}
      {showDevices && (
        <DevicesPanel
          api={api}
          keys={keys}
          role={role}
          devices={devices}
          devicesError={devicesError}
          jobsVersion={printTick}
          onClose={() => setShowDevices(false)}
          onSent={(job, printer) => {
            void reloadDevices();
            setToast(`${job.label} sent to ${printer}.`);
          }}
          onError={onError}
        />
      )}
      {toast && (
        <div className="toast" role="status" data-testid="toast">
          {toast}
        </div>
      )}
    </div>
  );
}
