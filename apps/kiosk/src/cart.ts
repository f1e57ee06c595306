// The kiosk's order model: cart lines, the running total estimate (the server
// prices the order for real), the menu loader with polling (the kiosk may not
// subscribe to events), and error messages in words a customer understands.
import {
  type Api,
  ApiError,
  type Item,
  type LineRequest,
  type Menu,
  type MenuView,
  call,
  unitPrice,
} from "@edge/shared";
import { useCallback, useEffect, useRef, useState } from "react";

export type Fulfillment = "dine_in" | "takeaway";

export interface CartLine {
  /** Item plus its sorted modifiers: adding the same thing again adds to this line. */
  key: string;
  item_id: string;
  modifiers: string[];
  quantity: number;
}

/** Most of one line the server accepts. */
export const MAX_QUANTITY = 99;

const lineKey = (itemId: string, modifiers: string[]) => `${itemId}|${[...modifiers].sort().join(",")}`;

export function addLine(cart: CartLine[], req: LineRequest): CartLine[] {
  const modifiers = req.modifiers ?? [];
  const key = lineKey(req.item_id, modifiers);
  const existing = cart.find((l) => l.key === key);
  if (existing) return setQuantity(cart, key, existing.quantity + req.quantity);
  return [...cart, { key, item_id: req.item_id, modifiers, quantity: Math.min(MAX_QUANTITY, req.quantity) }];
}

/** Quantity 0 removes the line. */
export function setQuantity(cart: CartLine[], key: string, quantity: number): CartLine[] {
  if (quantity <= 0) return cart.filter((l) => l.key !== key);
  return cart.map((l) => (l.key === key ? { ...l, quantity: Math.min(MAX_QUANTITY, quantity) } : l));
}

/** A cart line as the customer sees it, checked against the current menu. */
export interface LineInfo {
  line: CartLine;
  item: Item | undefined;
  name: string;
  /** Chosen options, in words. */
  details: string;
  unit: number;
  total: number;
  /** Sold out or gone from the menu since it was added. */
  unavailable: boolean;
}

export function describeLine(menu: Menu, line: CartLine): LineInfo {
  const item = menu.items.find((i) => i.id === line.item_id);
  const mods = line.modifiers.map((id) => {
    for (const g of menu.modifier_groups) {
      const m = g.modifiers.find((x) => x.id === id);
      if (m) return m;
    }
    return undefined;
  });
  const unavailable = !item || !!item.sold_out || mods.some((m) => !m || m.sold_out);
  const unit = item ? unitPrice(menu, item, line.modifiers) : 0;
  return {
    line,
    item,
    name: item?.name ?? "No longer on the menu",
    details: mods
      .map((m) => m?.name ?? "")
      .filter(Boolean)
      .join(", "),
    unit,
    total: unit * line.quantity,
    unavailable,
  };
}

export interface Estimate {
  subtotal: number;
  tax: number;
  total: number;
  count: number;
  /** Tax is added on top of menu prices (otherwise it is already in them). */
  taxAdded: boolean;
}

/** Same rule as the server (per-line tax, rounded half away from zero), but only an estimate. */
export function estimate(menu: Menu, lines: LineInfo[]): Estimate {
  let subtotal = 0;
  let tax = 0;
  let count = 0;
  const exclusive = menu.tax_mode === "exclusive";
  for (const l of lines) {
    subtotal += l.total;
    count += l.line.quantity;
    const rate = menu.tax_classes.find((t) => t.id === l.item?.tax_class)?.rate_bp ?? 0;
    tax += exclusive ? Math.round((l.total * rate) / 10_000) : Math.round((l.total * rate) / (10_000 + rate));
  }
  return { subtotal, tax, total: exclusive ? subtotal + tax : subtotal, count, taxAdded: exclusive };
}

/** The menu, reloaded every minute and on demand; a 401 goes to `onError` (back to setup). */
export function useKioskMenu(api: Api, onError: (e: unknown) => void) {
  const [menu, setMenu] = useState<MenuView | null>(null);
  const [failed, setFailed] = useState(false);
  const onErrorRef = useRef(onError);
  onErrorRef.current = onError;
  /** Resolves with the fresh menu, or null when it could not be loaded. */
  const reload = useCallback(
    (): Promise<MenuView | null> =>
      call(api.GET("/api/v1/menu"))
        .then((m) => {
          setMenu((old) => (old && old.version === m.version ? old : m));
          setFailed(false);
          return m;
        })
        .catch((e) => {
          onErrorRef.current(e);
          setFailed(true);
          return null;
        }),
    [api],
  );
  useEffect(() => {
    reload();
    const t = setInterval(reload, 60_000);
    return () => clearInterval(t);
  }, [reload]);
  return { menu, failed, reload };
}

/** What in the cart is sold out now, in words: "Garlic Knots", "Sliced Avocado (on Harbor Classic Burger)". */
export function soldOutNames(menu: Menu, cart: CartLine[]): string[] {
  const names: string[] = [];
  for (const line of cart) {
    const item = menu.items.find((i) => i.id === line.item_id);
    if (!item) continue;
    if (item.sold_out) {
      names.push(item.name);
      continue;
    }
    for (const g of menu.modifier_groups)
      for (const m of g.modifiers)
        if (m.sold_out && line.modifiers.includes(m.id)) names.push(`${m.name} (on ${item.name})`);
  }
  return [...new Set(names)];
}

function listInWords(names: string[]): string {
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/**
 * What to tell a customer when placing the order failed: plain words, no codes.
 * `soldOut` names what the fresh menu shows as sold out (the error itself does not say).
 */
export function customerMessage(e: unknown, soldOut: string[] = []): string {
  if (!(e instanceof ApiError)) return "Sorry, we can't reach the kitchen right now. Please try again in a moment.";
  switch (e.code) {
    case "sold_out":
      return soldOut.length
        ? `Sorry, ${listInWords(soldOut)} just sold out. Please remove ${soldOut.length === 1 ? "it" : "them"} from your order and try again.`
        : "Sorry, something in your order just sold out. Please remove it and try again.";
    case "network":
      return "Sorry, we can't reach the kitchen right now. Please try again in a moment.";
    case "request_in_flight":
      return "We're still sending your order. Please wait a moment and try again.";
    case "unknown_item":
    case "unknown_modifier":
    case "invalid_modifiers":
      return "Sorry, part of your order is no longer on the menu. Please remove it and try again.";
    case "too_many_lines":
    case "invalid_quantity":
      return "Sorry, that order is too big for this screen. Please order the rest at the counter.";
    case "label_too_long":
      return "Please use a shorter name (60 letters at most).";
    case "unauthenticated":
    case "session_expired":
      return "Sorry, this screen needs a member of staff. Please order at the counter.";
    default:
      return "Sorry, something went wrong placing your order. Please try again, or ask a member of staff.";
  }
}

/** The page's query string: ?idle=<seconds>&countdown=<seconds> (shorter timeouts for tests). */
export function settingFromQuery(name: string, fallback: number): number {
  const v = Number(new URLSearchParams(location.search).get(name));
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
