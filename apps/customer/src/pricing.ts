// Prices and taxes of a cart, always from the hub (POST …/cart): the browser never computes a total on its own.
// Offline it asks nothing (the offline banner says why) and prices again when the connection is back.
import { useEffect, useState } from "react";
import { type LineRequest, type PricedCart, api, hub, words } from "./hub";
import { useOnline } from "./online";

/** `name` turns an item's or choice's id into its name for error messages (see `words`). */
export function usePricing(storeId: string, lines: LineRequest[], name?: (id: string) => string | undefined) {
  // The priced cart with the lines it priced: shown only while the cart is still those lines.
  const [priced, setPriced] = useState<{ store: string; body: string; cart: PricedCart } | null>(null);
  // Kept as the hub said it and worded at render, when the menu (for names) may have arrived.
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const body = JSON.stringify(lines);
  const online = useOnline();
  useEffect(() => {
    const parsed = JSON.parse(body) as LineRequest[];
    if (!online) {
      setError(null);
      return;
    }
    if (!parsed.length) {
      setPriced(null);
      setError(null);
      return;
    }
    let live = true;
    setBusy(true);
    hub(() => api.POST("/api/v1/public/stores/{id}/cart", { params: { path: { id: storeId } }, body: { lines: parsed } }))
      .then((c) => {
        if (!live) return;
        setPriced({ store: storeId, body, cart: c });
        setError(null);
      })
      .catch((e) => {
        if (!live) return;
        setPriced(null);
        setError(e);
      })
      .finally(() => live && setBusy(false));
    return () => {
      live = false;
    };
  }, [storeId, body, online]);
  return { cart: priced?.store === storeId && priced.body === body ? priced.cart : null, error: error === null ? null : words(error, name), busy };
}
