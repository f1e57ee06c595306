// The self-order kiosk: a staff-only setup sign-in (the device keeps its
// session), then the customer flow attract -> eat here / take away -> menu and
// cart -> checkout -> order number, with an inactivity reset back to attract.
// Timeouts can be shortened for tests: ?idle=<seconds>&countdown=<seconds>.
import "./kiosk.css";
import {
  type Api,
  type Item,
  type LineRequest,
  type OrderDraft,
  type OrderView,
  ModifierDialog,
  call,
  formatMoney,
  newKey,
  useSession,
} from "@edge/shared";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  type CartLine,
  type Fulfillment,
  addLine,
  customerMessage,
  describeLine,
  estimate,
  setQuantity,
  settingFromQuery,
  soldOutNames,
  useKioskMenu,
} from "./cart";
import {
  Attract,
  CartPanel,
  Checkout,
  ChooseFulfillment,
  ConfirmStartOver,
  MenuScreen,
  OrderNumber,
  SetupScreen,
  StillThere,
} from "./screens";

export function App() {
  const { session, api, signIn, onError } = useSession("kiosk");
  if (!session) return <SetupScreen api={api} signIn={signIn} />;
  return <Kiosk key={session.token} api={api} onError={onError} />;
}

const IDLE_SECONDS = settingFromQuery("idle", 90);
const COUNTDOWN_SECONDS = settingFromQuery("countdown", 10);

/**
 * Inactivity: after `idleMs` without a touch, click, key or scroll, `secondsLeft`
 * counts down from `countdown`; at zero `onTimeout` runs. Only `stay` ends the prompt.
 */
function useIdle(enabled: boolean, idleMs: number, countdown: number, onTimeout: () => void) {
  const last = useRef(Date.now());
  const promptAt = useRef<number | null>(null);
  const [secondsLeft, setSecondsLeft] = useState<number | null>(null);
  const timeout = useRef(onTimeout);
  timeout.current = onTimeout;

  useEffect(() => {
    last.current = Date.now();
    promptAt.current = null;
    setSecondsLeft(null);
    if (!enabled) return;
    const touch = () => {
      if (promptAt.current === null) last.current = Date.now();
    };
    const events = ["pointerdown", "keydown", "wheel", "touchstart", "input", "scroll"] as const;
    for (const e of events) window.addEventListener(e, touch, { capture: true, passive: true });
    const tick = setInterval(() => {
      const now = Date.now();
      if (promptAt.current === null) {
        if (now - last.current >= idleMs) {
          promptAt.current = now;
          setSecondsLeft(countdown);
        }
        return;
      }
      const left = Math.ceil(countdown - (now - promptAt.current) / 1000);
      if (left <= 0) {
        promptAt.current = null;
        setSecondsLeft(null);
        timeout.current();
      } else setSecondsLeft(left);
    }, 250);
    return () => {
      clearInterval(tick);
      for (const e of events) window.removeEventListener(e, touch, { capture: true });
    };
  }, [enabled, idleMs, countdown]);

  const stay = useCallback(() => {
    promptAt.current = null;
    last.current = Date.now();
    setSecondsLeft(null);
  }, []);
  return { secondsLeft, stay };
}

/** While `open`: focus into the top dialog; afterwards give focus back to what had it. */
function useDialogFocus(open: boolean) {
  useEffect(() => {
    if (!open) return;
    const opener = document.activeElement as HTMLElement | null;
    const dialogs = document.querySelectorAll<HTMLElement>('[role="dialog"]');
    const top = dialogs[dialogs.length - 1];
    (
      top?.querySelector<HTMLElement>("[data-autofocus]") ??
      top?.querySelector<HTMLElement>("button:not(:disabled), input")
    )?.focus();
    return () => {
      if (opener?.isConnected) requestAnimationFrame(() => opener.focus());
    };
  }, [open]);
}

type Screen = "attract" | "fulfillment" | "menu" | "checkout" | "done";

function Kiosk({ api, onError }: { api: Api; onError: (e: unknown) => void }) {
  const { menu: menuView, failed, reload } = useKioskMenu(api, onError);
  const menu = menuView?.menu;
  const [screen, setScreen] = useState<Screen>("attract");
  const [fulfillment, setFulfillment] = useState<Fulfillment>("dine_in");
  const [cart, setCart] = useState<CartLine[]>([]);
  const [category, setCategory] = useState<string | null>(null);
  const [picking, setPicking] = useState<Item | null>(null);
  const [confirmReset, setConfirmReset] = useState(false);
  const [name, setName] = useState("");
  const [placing, setPlacing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [placed, setPlaced] = useState<OrderView | null>(null);
  const [announcement, setAnnouncement] = useState("");
  /** The Idempotency-Key of the order being placed, kept for retries of exactly the same order. */
  const attempt = useRef<{ body: string; key: string } | null>(null);

  const lines = useMemo(() => (menu ? cart.map((l) => describeLine(menu, l)) : []), [menu, cart]);
  const totals = useMemo(() => (menu ? estimate(menu, lines) : null), [menu, lines]);
  const currency = menu?.currency ?? "USD";

  const announce = useCallback((text: string) => {
    // A changed string is what makes screen readers speak again.
    setAnnouncement((old) => (old === text ? `${text}\u00a0` : text));
  }, []);

  const reset = useCallback(() => {
    setScreen("attract");
    setCart([]);
    setFulfillment("dine_in");
    setCategory(null);
    setPicking(null);
    setConfirmReset(false);
    setName("");
    setError(null);
    setPlaced(null);
    attempt.current = null;
    setAnnouncement("");
    reload();
  }, [reload]);

  const idleOn = (screen === "fulfillment" || screen === "menu" || screen === "checkout") && !placing;
  const { secondsLeft, stay } = useIdle(idleOn, IDLE_SECONDS * 1000, COUNTDOWN_SECONDS, reset);
  const prompting = secondsLeft !== null;

  // Escape on the prompt means "still here" and must not also close a dialog under it.
  useEffect(() => {
    if (!prompting) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      stay();
    };
    window.addEventListener("keydown", onKey, { capture: true });
    return () => window.removeEventListener("keydown", onKey, { capture: true });
  }, [prompting, stay]);

  useEffect(() => {
    document.querySelector<HTMLElement>("[data-screen-title]")?.focus();
  }, [screen]);
  useDialogFocus(picking !== null);
  useDialogFocus(confirmReset);
  useDialogFocus(prompting);

  const summary = (next: CartLine[]) => {
    if (!menu) return "";
    const t = estimate(
      menu,
      next.map((l) => describeLine(menu, l)),
    );
    return t.count === 0
      ? "Your order is empty."
      : `Your order: ${t.count} ${t.count === 1 ? "item" : "items"}, ${formatMoney(t.total, currency)}.`;
  };

  const add = (req: LineRequest) => {
    const next = addLine(cart, { item_id: req.item_id, quantity: req.quantity, modifiers: req.modifiers ?? [] });
    setCart(next);
    setPicking(null);
    const item = menu?.items.find((i) => i.id === req.item_id);
    announce(`Added ${req.quantity} ${item?.name ?? "item"}. ${summary(next)}`);
  };

  const changeQuantity = (key: string, quantity: number) => {
    const line = cart.find((l) => l.key === key);
    const next = setQuantity(cart, key, quantity);
    setCart(next);
    setError(null);
    const itemName = menu?.items.find((i) => i.id === line?.item_id)?.name ?? "item";
    announce(`${quantity <= 0 ? `Removed ${itemName}` : `${itemName}: ${quantity}`}. ${summary(next)}`);
    // The line's buttons are gone with it: keep keyboard focus in the order.
    if (quantity <= 0)
      requestAnimationFrame(() =>
        (document.getElementById("cart-title") ?? document.querySelector<HTMLElement>("[data-screen-title]"))?.focus(),
      );
  };

  const pay = async () => {
    if (placing || cart.length === 0) return;
    const draft: OrderDraft = {
      channel: "kiosk",
      fulfillment,
      lines: cart.map((l) => ({ item_id: l.item_id, quantity: l.quantity, modifiers: l.modifiers })),
      customer_name: name.trim() || null,
    };
    // Same order again (a retry) -> same key, so it is never placed twice.
    const body = JSON.stringify(draft);
    if (attempt.current?.body !== body) attempt.current = { body, key: newKey() };
    setPlacing(true);
    setError(null);
    try {
      const order = await call(
        api.POST("/api/v1/orders", { body: draft, params: { header: { "Idempotency-Key": attempt.current.key } } }),
      );
      attempt.current = null;
      setPlaced(order);
      setCart([]);
      setScreen("done");
      announce(`Thank you. Your order number is ${order.ticket}. Please pay at the counter.`);
    } catch (e) {
      onError(e);
      // The fresh menu shows what sold out, and the order marks it at once.
      const fresh = await reload();
      setError(customerMessage(e, fresh ? soldOutNames(fresh.menu, cart) : []));
    } finally {
      setPlacing(false);
    }
  };

  let content;
  if (screen === "attract") {
    content = <Attract unavailable={!menu && failed} onStart={() => setScreen("fulfillment")} />;
  } else if (screen === "fulfillment") {
    content = (
      <ChooseFulfillment
        onBack={cart.length ? () => setScreen("menu") : reset}
        onChoose={(f) => {
          setFulfillment(f);
          setScreen("menu");
        }}
      />
    );
  } else if (screen === "menu") {
    content = (
      <MenuScreen
        menu={menu}
        category={category}
        onCategory={setCategory}
        onPick={setPicking}
        fulfillment={fulfillment}
        onChangeFulfillment={() => setScreen("fulfillment")}
        onStartOver={() => (cart.length ? setConfirmReset(true) : reset())}
        cart={
          <CartPanel
            lines={lines}
            estimate={totals}
            currency={currency}
            fulfillment={fulfillment}
            onQuantity={changeQuantity}
            onCheckout={() => setScreen("checkout")}
          />
        }
      />
    );
    if (!menu && failed)
      content = (
        <main className="menu-unavailable">
          <h1 tabIndex={-1} data-screen-title>
            Sorry, we can’t show the menu right now.
          </h1>
          <p>Please try again in a moment, or order at the counter.</p>
          <button type="button" className="primary" onClick={reload}>
            Try again
          </button>
          <button type="button" onClick={reset}>
            Start over
          </button>
        </main>
      );
  } else if (screen === "checkout") {
    content = (
      <Checkout
        lines={lines}
        estimate={totals}
        currency={currency}
        fulfillment={fulfillment}
        name={name}
        onName={setName}
        onQuantity={changeQuantity}
        onBack={() => {
          setError(null);
          setScreen("menu");
        }}
        onPay={pay}
        placing={placing}
        error={error}
        onDismissError={() => setError(null)}
      />
    );
  } else {
    content = placed && <OrderNumber order={placed} onDone={reset} />;
  }

  const dialogOpen = picking !== null || confirmReset;
  return (
    <div className="kiosk">
      <div className="screen" inert={dialogOpen || prompting}>
        {content}
      </div>
      {picking && menu && (
        <div inert={prompting}>
          <ModifierDialog
            menu={menu}
            item={picking}
            large
            withNote={false}
            onAdd={add}
            onCancel={() => setPicking(null)}
          />
        </div>
      )}
      {confirmReset && (
        <div inert={prompting}>
          <ConfirmStartOver onKeep={() => setConfirmReset(false)} onStartOver={reset} />
        </div>
      )}
      {prompting && <StillThere secondsLeft={secondsLeft} onStay={stay} onStartOver={reset} />}
      <div className="visually-hidden" role="status" aria-live="polite" data-testid="announcer">
        {announcement}
      </div>
    </div>
  );
}
