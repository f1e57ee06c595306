// The cart, kept on this device per store (localStorage), so it survives a
// reload. Only what the customer chose is kept; prices always come from the
// hub's cart pricing.
import { useCallback, useEffect, useState } from "react";
import type { LineRequest } from "./hub";

const key = (store: string) => `edge.customer.cart.${store}`;

export function loadCart(store: string): LineRequest[] {
  try {
    const lines = JSON.parse(localStorage.getItem(key(store)) ?? "[]") as LineRequest[];
    return Array.isArray(lines) ? lines.filter((l) => l && typeof l.item_id === "string" && l.quantity >= 1) : [];
  } catch {
    return [];
  }
}

export function saveCart(store: string, lines: LineRequest[]) {
  if (lines.length) localStorage.setItem(key(store), JSON.stringify(lines));
  else localStorage.removeItem(key(store));
}

/** The store's cart and ways to change it; every change is saved at once. */
export function useCart(store: string) {
  const [lines, setLines] = useState<LineRequest[]>(() => loadCart(store));
  useEffect(() => setLines(loadCart(store)), [store]);
  // Saved at once, from what is saved: not inside a state updater, which React
  // skips when the page leaves first (placing an order cleared nothing so).
  const update = useCallback(
    (f: (l: LineRequest[]) => LineRequest[]) => {
      const next = f(loadCart(store));
      saveCart(store, next);
      setLines(next);
    },
    [store],
  );
  return {
    lines,
    add: (line: LineRequest) => update((l) => [...l, line]),
    setQuantity: (i: number, q: number) =>
      update((l) => (q < 1 ? l.filter((_, j) => j !== i) : l.map((x, j) => (j === i ? { ...x, quantity: Math.min(99, q) } : x)))),
    clear: () => update(() => []),
  };
}
