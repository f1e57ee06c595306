// The kiosk's screens, customer-facing and touch-first: staff setup, attract,
// eat here / take away, the picture menu with its always-visible cart,
// checkout, the order number, and the "Are you still there?" prompt.
import { type Api, ErrorBanner, type Item, type Menu, Modal, type OrderView, SignIn, formatMoney } from "@edge/shared";
import { type ReactNode, useEffect, useRef, useState } from "react";
import { ART_BG, EatHereArt, FoodArt, Logo, TakeAwayArt, artFor } from "./art";
import type { Estimate, Fulfillment, LineInfo } from "./cart";

/** How the store presents itself (the menu API has no store name yet). */
export const STORE = {
  name: "Harbor Street Kitchen",
  tagline: "Burgers, pizza, salads & shakes — made fresh when you order",
};

const FULFILLMENT_WORDS: Record<Fulfillment, string> = { dine_in: "Eat here", takeaway: "Take away" };

/** A screen's main heading; focused when the screen opens so Tab starts at the top. */
function Title({ children, className }: { children: ReactNode; className?: string }) {
  return (
    <h1 className={className} tabIndex={-1} data-screen-title>
      {children}
    </h1>
  );
}

const CUSTOMER_ROLE = ["customer"];

export function SetupScreen({ api, signIn }: { api: Api; signIn: (id: string, pin: string) => Promise<unknown> }) {
  return (
    <div className="setup">
      <SignIn title="Kiosk setup — staff only" api={api} roles={CUSTOMER_ROLE} signIn={signIn} />
      <p className="setup-hint">
        Sign this screen in with the self-order kiosk account. It stays signed in; customers never see this page.
      </p>
    </div>
  );
}

export function Attract({ onStart, unavailable }: { onStart: () => void; unavailable: boolean }) {
  return (
    <main className="attract" data-testid="attract" onClick={() => !unavailable && onStart()}>
      <div className="attract-brand">
        <Logo size={150} />
        <p className="welcome">Welcome to</p>
        <Title className="store-name">{STORE.name}</Title>
        <p className="tagline">{STORE.tagline}</p>
      </div>
      <div className="attract-art" aria-hidden="true">
        {(["pizza", "burger", "drink"] as const).map((k) => (
          <div key={k} className={`attract-plate plate-${k}`} style={{ background: ART_BG[k] }}>
            <FoodArt kind={k} />
          </div>
        ))}
      </div>
      {unavailable ? (
        <p className="attract-closed" role="status">
          Ordering on this screen is unavailable right now. Please order at the counter.
        </p>
      ) : (
        <button
          type="button"
          className="start"
          data-testid="start"
          onClick={(e) => {
            e.stopPropagation();
            onStart();
          }}
        >
          Touch to order
        </button>
      )}
      <p className="attract-foot">Eat here or take away · Pay at the counter</p>
    </main>
  );
}

export function ChooseFulfillment({ onChoose, onBack }: { onChoose: (f: Fulfillment) => void; onBack: () => void }) {
  return (
    <main className="fulfillment">
      <Title>Where will you enjoy your meal?</Title>
      <div className="fulfillment-options">
        <button type="button" className="big-choice" data-testid="eat-here" onClick={() => onChoose("dine_in")}>
          <EatHereArt />
          <span>Eat here</span>
        </button>
        <button type="button" className="big-choice" data-testid="take-away" onClick={() => onChoose("takeaway")}>
          <TakeAwayArt />
          <span>Take away</span>
        </button>
      </div>
      <button type="button" className="back" onClick={onBack}>
        ← Back
      </button>
    </main>
  );
}

function ItemCard({ item, currency, onPick }: { item: Item; currency: string; onPick: (item: Item) => void }) {
  const kind = artFor(item.category, item.name);
  return (
    <button
      type="button"
      className={item.sold_out ? "item-card sold-out" : "item-card"}
      data-testid={`item-${item.id}`}
      disabled={!!item.sold_out}
      onClick={() => onPick(item)}
    >
      <span className="pic" style={{ background: ART_BG[kind] }}>
        {item.image ? <img src={item.image} alt="" /> : <FoodArt kind={kind} name={item.name} />}
        {item.sold_out && <span className="soldout-badge">Sold out</span>}
      </span>
      <span className="item-name">{item.name}</span>
      {item.description && <span className="item-desc">{item.description}</span>}
      <span className="item-price">{formatMoney(item.price, currency)}</span>
    </button>
  );
}

export function MenuScreen({
  menu,
  category,
  onCategory,
  onPick,
  fulfillment,
  onChangeFulfillment,
  onStartOver,
  cart,
}: {
  menu: Menu | undefined;
  category: string | null;
  onCategory: (id: string) => void;
  onPick: (item: Item) => void;
  fulfillment: Fulfillment;
  onChangeFulfillment: () => void;
  onStartOver: () => void;
  cart: ReactNode;
}) {
  const categories = menu ? menu.categories.filter((c) => menu.items.some((i) => i.category === c.id)) : [];
  const current = categories.find((c) => c.id === category) ?? categories[0];
  const items = menu && current ? menu.items.filter((i) => i.category === current.id) : [];
  const grid = useRef<HTMLDivElement>(null);
  useEffect(() => {
    grid.current?.scrollTo({ top: 0 });
  }, [current?.id]);
  return (
    <div className="menu-screen">
      <header className="topbar">
        {/* Focused when the menu opens, so Tab goes through the top bar, sections, dishes, then the order. */}
        <span className="topbar-brand" tabIndex={-1} data-screen-title>
          <Logo size={56} />
          {STORE.name}
        </span>
        <button type="button" className="chip" onClick={onChangeFulfillment} data-testid="change-fulfillment">
          {FULFILLMENT_WORDS[fulfillment]} · change
        </button>
        <button type="button" className="ghost" onClick={onStartOver} data-testid="start-over">
          Start over
        </button>
      </header>
      <nav className="categories" aria-label="Menu sections">
        {categories.map((c) => (
          <button
            key={c.id}
            type="button"
            className={c.id === current?.id ? "category on" : "category"}
            aria-pressed={c.id === current?.id}
            data-testid={`category-${c.id}`}
            onClick={() => onCategory(c.id)}
          >
            <span className="category-pic" style={{ background: ART_BG[artFor(c.id)] }}>
              <FoodArt kind={artFor(c.id)} />
            </span>
            {c.name}
          </button>
        ))}
      </nav>
      <main className="items" ref={grid}>
        <h1 className="items-title">{current?.name ?? "Menu"}</h1>
        {!menu && <p className="items-note">Loading the menu…</p>}
        <div className="item-grid">
          {items.map((i) => (
            <ItemCard key={i.id} item={i} currency={menu!.currency} onPick={onPick} />
          ))}
        </div>
      </main>
      {cart}
    </div>
  );
}

/** Cart lines with quantity −/+ and remove (− on the last one removes the line). */
function CartLines({
  lines,
  currency,
  onQuantity,
}: {
  lines: LineInfo[];
  currency: string;
  onQuantity: (key: string, quantity: number) => void;
}) {
  return (
    <ul className="lines">
      {lines.map(({ line, name, details, total, unavailable }) => (
        <li key={line.key} className={unavailable ? "line unavailable" : "line"} data-testid={`line-${line.item_id}`}>
          <div className="line-text">
            <strong>{name}</strong>
            {details && <span className="line-details">{details}</span>}
            {unavailable && <span className="line-warn">Sold out — please remove</span>}
          </div>
          <div className="line-controls">
            <button
              type="button"
              aria-label={line.quantity === 1 ? `Remove ${name}` : `One less ${name}`}
              onClick={() => onQuantity(line.key, line.quantity - 1)}
            >
              −
            </button>
            <span className="line-qty" data-testid="line-qty" aria-label={`quantity ${line.quantity}`}>
              {line.quantity}
            </span>
            <button
              type="button"
              aria-label={`One more ${name}`}
              disabled={line.quantity >= 99 || unavailable}
              onClick={() => onQuantity(line.key, line.quantity + 1)}
            >
              +
            </button>
            <button
              type="button"
              className="remove"
              aria-label={`Remove ${name}`}
              onClick={() => onQuantity(line.key, 0)}
            >
              ✕
            </button>
          </div>
          <span className="line-total">{formatMoney(total, currency)}</span>
        </li>
      ))}
    </ul>
  );
}

export function CartPanel({
  lines,
  estimate,
  currency,
  fulfillment,
  onQuantity,
  onCheckout,
}: {
  lines: LineInfo[];
  estimate: Estimate | null;
  currency: string;
  fulfillment: Fulfillment;
  onQuantity: (key: string, quantity: number) => void;
  onCheckout: () => void;
}) {
  const blocked = lines.some((l) => l.unavailable);
  const count = estimate?.count ?? 0;
  return (
    <aside className="cart" data-testid="cart" aria-labelledby="cart-title">
      <div className="cart-head">
        <h2 id="cart-title" tabIndex={-1}>
          Your order
        </h2>
        <span className="cart-meta">
          {count} {count === 1 ? "item" : "items"} · {FULFILLMENT_WORDS[fulfillment]}
        </span>
      </div>
      {lines.length === 0 ? (
        <p className="cart-empty">Nothing here yet. Tap a picture to add it to your order.</p>
      ) : (
        <CartLines lines={lines} currency={currency} onQuantity={onQuantity} />
      )}
      <div className="cart-foot">
        <div className="cart-total">
          <span>
            Total <small>{estimate?.taxAdded ? "(estimate, incl. tax)" : "(estimate)"}</small>
          </span>
          <strong data-testid="cart-total">{formatMoney(estimate?.total ?? 0, currency)}</strong>
        </div>
        {blocked && <p className="cart-warn">Please remove the sold-out items to continue.</p>}
        <button
          type="button"
          className="primary checkout"
          data-testid="checkout"
          disabled={lines.length === 0 || blocked}
          onClick={onCheckout}
        >
          Checkout
        </button>
      </div>
    </aside>
  );
}

const KEYS = ["QWERTYUIOP", "ASDFGHJKL'", "ZXCVBNM-"];

/** Big letter keys for touch screens without a keyboard of their own (keyboard users type directly). */
function LetterPad({
  onKey,
  onBackspace,
  onDone,
}: {
  onKey: (k: string) => void;
  onBackspace: () => void;
  onDone: () => void;
}) {
  return (
    <div className="letterpad">
      {KEYS.map((row) => (
        <div key={row} className="letterpad-row">
          {[...row].map((k) => (
            <button key={k} type="button" tabIndex={-1} onClick={() => onKey(k)}>
              {k}
            </button>
          ))}
        </div>
      ))}
      <div className="letterpad-row">
        <button type="button" tabIndex={-1} className="wide" onClick={() => onKey(" ")}>
          Space
        </button>
        <button type="button" tabIndex={-1} aria-label="Delete last letter" onClick={onBackspace}>
          ⌫
        </button>
        <button type="button" tabIndex={-1} className="wide" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

export const MAX_NAME = 60;

export function Checkout({
  lines,
  estimate,
  currency,
  fulfillment,
  name,
  onName,
  onQuantity,
  onBack,
  onPay,
  placing,
  error,
  onDismissError,
}: {
  lines: LineInfo[];
  estimate: Estimate | null;
  currency: string;
  fulfillment: Fulfillment;
  name: string;
  onName: (name: string) => void;
  onQuantity: (key: string, quantity: number) => void;
  onBack: () => void;
  onPay: () => void;
  placing: boolean;
  error: string | null;
  onDismissError: () => void;
}) {
  const [typing, setTyping] = useState(false);
  const blocked = lines.some((l) => l.unavailable);
  const type = (k: string) => {
    const lower = name.length > 0 && !/[\s'-]$/.test(name);
    onName((name + (lower ? k.toLowerCase() : k)).slice(0, MAX_NAME));
  };
  return (
    <main className="checkout-screen">
      <header className="checkout-head">
        <button type="button" className="back" onClick={onBack} disabled={placing}>
          ← Add more
        </button>
        <Title>Check your order</Title>
        <span className="chip static">{FULFILLMENT_WORDS[fulfillment]}</span>
      </header>
      <div className="checkout-body">
        <section className="review" aria-label="Your order">
          {lines.length === 0 ? (
            <p className="cart-empty">Your order is empty.</p>
          ) : (
            <CartLines lines={lines} currency={currency} onQuantity={onQuantity} />
          )}
          <dl className="totals">
            {estimate?.taxAdded && (
              <>
                <dt>Subtotal</dt>
                <dd>{formatMoney(estimate.subtotal, currency)}</dd>
                <dt>Tax</dt>
                <dd>{formatMoney(estimate.tax, currency)}</dd>
              </>
            )}
            <dt className="grand">Total</dt>
            <dd className="grand" data-testid="checkout-total">
              {formatMoney(estimate?.total ?? 0, currency)}
            </dd>
          </dl>
          <p className="fineprint">This is an estimate; your receipt shows the final total.</p>
        </section>
        <section className="name-pay">
          <label className="name-field" htmlFor="customer-name">
            Your first name <small>(optional — we’ll call it out when your order is ready)</small>
          </label>
          <input
            id="customer-name"
            data-testid="customer-name"
            value={name}
            maxLength={MAX_NAME}
            autoComplete="off"
            placeholder="Tap to type your name"
            onFocus={() => setTyping(true)}
            onChange={(e) => onName(e.target.value.slice(0, MAX_NAME))}
          />
          {typing && (
            <LetterPad onKey={type} onBackspace={() => onName(name.slice(0, -1))} onDone={() => setTyping(false)} />
          )}
          <h2>How would you like to pay?</h2>
          <ErrorBanner error={error} onDismiss={onDismissError} />
          <div className="pay-options">
            <button
              type="button"
              className={placing ? "primary pay busy" : "primary pay"}
              data-testid="pay-counter"
              disabled={placing || lines.length === 0 || blocked}
              onClick={onPay}
            >
              {placing ? "Sending your order…" : "Pay at the counter"}
              <small>Get your order number now, then pay at the counter</small>
            </button>
            <button type="button" className="pay" data-testid="pay-card" disabled>
              Pay by card
              <small>Card payment coming soon</small>
            </button>
          </div>
        </section>
      </div>
    </main>
  );
}

/** How long the order number stays up. */
export const DONE_SECONDS = 20;

export function OrderNumber({ order, onDone }: { order: OrderView; onDone: () => void }) {
  useEffect(() => {
    const t = setTimeout(onDone, DONE_SECONDS * 1000);
    return () => clearTimeout(t);
  }, [onDone]);
  const name = order.customer_name?.trim();
  return (
    <main className="done-screen" data-testid="order-number">
      <Logo size={110} />
      <Title>Thank you{name ? `, ${name}` : ""}!</Title>
      <p className="done-label">Your order number</p>
      <p className="ticket" data-testid="ticket">
        {order.ticket}
      </p>
      <p className="pay-note">Please pay at the counter</p>
      <p className="done-total">
        Total to pay <strong data-testid="order-total">{formatMoney(order.totals.total, order.totals.currency)}</strong>
      </p>
      <p className="done-info">
        {order.fulfillment === "takeaway" ? "Take away" : "Eat here"} · We’ll call your number when it’s ready.
      </p>
      <button type="button" className="primary done" data-testid="done" onClick={onDone}>
        Done
      </button>
      <div className="done-timer" aria-hidden="true">
        <span style={{ animationDuration: `${DONE_SECONDS}s` }} />
      </div>
    </main>
  );
}

export function StillThere({
  secondsLeft,
  onStay,
  onStartOver,
}: {
  secondsLeft: number;
  onStay: () => void;
  onStartOver: () => void;
}) {
  return (
    <Modal title="Are you still there?" onClose={onStay}>
      <div className="still-there" data-testid="still-there">
        <p>
          We’ll start over and clear your order in <strong data-testid="countdown">{secondsLeft}</strong>{" "}
          {secondsLeft === 1 ? "second" : "seconds"}.
        </p>
        <div className="modal-actions">
          <button type="button" onClick={onStartOver}>
            Start over
          </button>
          <button type="button" className="primary" data-autofocus onClick={onStay} data-testid="stay">
            I’m still here
          </button>
        </div>
      </div>
    </Modal>
  );
}

export function ConfirmStartOver({ onKeep, onStartOver }: { onKeep: () => void; onStartOver: () => void }) {
  return (
    <Modal title="Start over?" onClose={onKeep}>
      <p>This clears your order.</p>
      <div className="modal-actions">
        <button type="button" className="danger" onClick={onStartOver} data-testid="confirm-start-over">
          Yes, start over
        </button>
        <button type="button" className="primary" data-autofocus onClick={onKeep}>
          Keep my order
        </button>
      </div>
    </Modal>
  );
}
