// Prices and taxes of a cart, always from the hub (POST …/cart): the browser never computes a total on its own.
import { useEffect, useState } from "react";
import { type LineRequest, type PricedCart, api, hub, words } from "./hub";

/** `name` turns an item's or choice's id into its name for error messages (see `words`). */
export function usePricing(storeId: string, lines: LineRequest[], name?: (id: string) => string | undefined) {
  const [cart, setCart] = useState<PricedCart | null>(null);
  // Kept as the hub said it and worded at render, when the menu (for names) may have arrived.
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const body = JSON.stringify(lines);
  useEffect(() => {
    const parsed = JSON.parse(body) as LineRequest[];
    if (!parsed.length) {
      setCart(null);
      setError(null);
      return;
    }
    let live = true;
    setBusy(true);
    hub(() => api.POST("/api/v1/public/stores/{id}/cart", { params: { path: { id: storeId } }, body: { lines: parsed } }))
      .then((c) => {
        if (!live) return;
        setCart(c);
        setError(null);
      })
      .catch((e) => {
        if (!live) return;
        setCart(null);
        setError(e);
      })
      .finally(() => live && setBusy(false));
    return () => {
      live = false;
    };
  }, [storeId, body]);
  return { cart, error: error === null ? null : words(error, name), busy };
}
