// Prices and taxes of a cart, always from the hub (POST …/cart): the browser never computes a total on its own.
import { useEffect, useState } from "react";
import { type LineRequest, type PricedCart, api, hub, words } from "./hub";

export function usePricing(storeId: string, lines: LineRequest[]) {
  const [cart, setCart] = useState<PricedCart | null>(null);
  const [error, setError] = useState<string | null>(null);
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
        setError(words(e));
      })
      .finally(() => live && setBusy(false));
    return () => {
      live = false;
    };
  }, [storeId, body]);
  return { cart, error, busy };
}
