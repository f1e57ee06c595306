// A store: its state and hours, the menu by category, the item sheet, and the
// cart bar that leads to checkout. Sold-out items show as such and cannot be added.
import { ModifierDialog, formatMoney } from "@edge/shared";
import { useEffect, useState } from "react";
import { Link, useAccount } from "./App";
import { Problem } from "./Problem";
import { useCart } from "./cart";
import { type HubItem, type PublicMenu, type PublicStore, api, hub, words } from "./hub";
import { useLoad } from "./load";
import { usePricing } from "./pricing";
import { toggleFavourite, useProfile } from "./profile";
import { hoursLines, orderingWords } from "./words";

/** How often an open store page reads the store again (open or paused, sold-out items). */
const REFRESH_MS = 30_000;

/**
 * The store's public profile and menu, loaded together; `reload` fetches both
 * again. Read again every 30 s and when the page comes back into view, so a
 * store that pauses or an item that sells out shows without a reload.
 */
export function useStore(storeId: string) {
  const path = { params: { path: { id: storeId } } };
  const { data, error, retry } = useLoad(
    () => Promise.all([hub(() => api.GET("/api/v1/public/stores/{id}", path)), hub(() => api.GET("/api/v1/public/stores/{id}/menu", path))]),
    [storeId],
  );
  useEffect(() => {
    const timer = setInterval(retry, REFRESH_MS);
    const seen = () => document.visibilityState === "visible" && retry();
    document.addEventListener("visibilitychange", seen);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", seen);
    };
  }, [storeId]);
  return { store: data?.[0] ?? null, menu: data?.[1] ?? null, error, reload: retry };
}

/** An item's or a choice's name by its id, from the store's menu (for messages about them). */
export function menuNamer(menu: PublicMenu | null): (id: string) => string | undefined {
  return (id) =>
    menu?.menu.items.find((i) => i.id === id)?.name ??
    menu?.menu.modifier_groups.flatMap((g) => g.modifiers).find((m) => m.id === id)?.name;
}

export function StoreHeader({ store }: { store: PublicStore }) {
  const hours = hoursLines(store.hours);
  return (
    <section className="store-head">
      <h1>{store.name ?? store.id}</h1>
      {store.address && <p className="muted">{store.address}</p>}
      <p className={store.ordering.accepting ? "state state-open" : "state state-closed"} data-testid="store-state">
        {orderingWords(store.ordering)}
      </p>
      {!store.ordering.accepting && store.ordering.reason === "closed" && <p>{store.ordering.message}</p>}
      {store.pickup_lead_minutes ? <p className="muted">Ready about {store.pickup_lead_minutes} minutes after you order.</p> : null}
      {hours.length > 0 && (
        <details>
          <summary>Opening hours</summary>
          <ul className="hours">
            {hours.map((h) => (
              <li key={h}>{h}</li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

export function StorePage({ storeId }: { storeId: string }) {
  const { store, menu, error, reload } = useStore(storeId);
  const cart = useCart(storeId);
  const priced = usePricing(storeId, cart.lines, menuNamer(menu));
  const [open, setOpen] = useState<HubItem | null>(null);
  const account = useAccount();
  const profile = useProfile();
  const [favError, setFavError] = useState<string | null>(null);
  if (error)
    return (
      <main className="page"><Problem error={error} onRetry={reload} />
        <Link to="/">Back to the stores</Link>
      </main>
    );
  if (!store || !menu) return <main className="page" aria-busy="true">Loading the menu…</main>;
  const m = menu.menu;
  const count = cart.lines.reduce((n, l) => n + l.quantity, 0);
  const isFavourite = (id: string) => Boolean(profile?.favourites.some((f) => f.store_id === storeId && f.item_id === id));
  const favourites = m.items.filter((i) => isFavourite(i.id));
  const itemRow = (i: HubItem, prefix: string) => (
    <li key={i.id} className="item-row">
      <button type="button" className="item" disabled={i.sold_out} onClick={() => setOpen(i)} data-testid={`${prefix}item-${i.id}`}>
        {i.image && <img className="item-picture" src={i.image} alt="" loading="lazy" width={72} height={72} />}
        <span className="item-text">
          <strong>{i.name}</strong>
          {i.description && <span className="muted">{i.description}</span>}
        </span>
        <span className="item-price">{i.sold_out ? "Sold out" : formatMoney(i.price, m.currency)}</span>
      </button>
      {account && (
        <button
          type="button"
          className="fav"
          aria-pressed={isFavourite(i.id)}
          aria-label={`Favourite: ${i.name}`}
          onClick={() => {
            setFavError(null);
            toggleFavourite(storeId, i.id).catch((e) => setFavError(words(e)));
          }}
        >
          {isFavourite(i.id) ? "★" : "☆"}
        </button>
      )}
    </li>
  );
  return (
    <main className="page with-cart-bar">
      <Link to="/">← All stores</Link>
      <StoreHeader store={store} />
      {favError && (
        <p className="notice notice-bad" role="alert">
          {favError}
        </p>
      )}
      {favourites.length > 0 && (
        <section className="category" aria-labelledby="cat-favourites">
          <h2 id="cat-favourites">Your favourites</h2>
          <ul className="items">{favourites.map((i) => itemRow(i, "fav-"))}</ul>
        </section>
      )}
      {m.categories.map((c) => {
        const items = m.items.filter((i) => i.category === c.id);
        if (!items.length) return null;
        return (
          <section key={c.id} className="category" aria-labelledby={`cat-${c.id}`}>
            <h2 id={`cat-${c.id}`}>{c.name}</h2>
            <ul className="items">{items.map((i) => itemRow(i, ""))}</ul>
          </section>
        );
      })}
      {open && (
        <ModifierDialog
          menu={m}
          item={open}
          onCancel={() => setOpen(null)}
          onAdd={(line) => {
            cart.add(line);
            setOpen(null);
          }}
        />
      )}
      {count > 0 && (
        <div className="cart-bar">
          <span aria-live="polite" data-testid="cart-summary">
            {count} item{count === 1 ? "" : "s"}
            {priced.cart ? ` · ${formatMoney(priced.cart.order.totals.total, priced.cart.order.totals.currency)}` : ""}
          </span>
          <Link to={`/stores/${encodeURIComponent(storeId)}/checkout`} className="button primary">
            View cart
          </Link>
        </div>
      )}
    </main>
  );
}
