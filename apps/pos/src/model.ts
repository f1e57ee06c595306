// The till's data model: the cart being rung up, what it would cost (a
// client-side estimate until the server prices it), the order draft sent to
// the store node, and idempotency keys that survive a cashier's retry.
import type { Approval } from "./Approval";
import { useMemo, useRef } from "react";
import {
  ApiError,
  type Item,
  type LineRequest,
  type Menu,
  type OrderDraft,
  type OrderStatus,
  type OrderView,
  type Role,
  newKey,
  unitPrice,
} from "@edge/shared";

export type Fulfillment = "dine_in" | "takeaway";

export interface CartLine {
  key: string;
  item_id: string;
  name: string;
  modifiers: string[];
  modifierNames: string[];
  note: string | null;
  quantity: number;
  /** Item price plus modifier deltas, minor units, from the menu at the time it was rung up. */
  unitPrice: number;
}

export interface DiscountDraft {
  kind: "percent" | "amount";
  /** As the server wants it: basis points for percent (1000 = 10 %), minor units for amount. */
  value: number;
  reason: string;
  /** A cashier's discount: the approving manager's short-lived session token. */
  approval: Approval | null;
}

export interface Cart {
  lines: CartLine[];
  fulfillment: Fulfillment;
  table: string;
  customerName: string;
  note: string;
  discount: DiscountDraft | null;
}

export const emptyCart: Cart = { lines: [], fulfillment: "dine_in", table: "", customerName: "", note: "", discount: null };

export const OPEN_STATUSES: OrderStatus[] = ["placed", "accepted", "in_preparation", "ready"];
export const isOpen = (o: OrderView) => OPEN_STATUSES.includes(o.status);

/** Roles that may discount, void and approve without asking anyone. */
export const isManager = (role: Role) => role === "owner" || role === "manager" || role === "admin";

/** A line for the cart from what the modifier dialog (or a direct tap) chose. */
export function toCartLine(menu: Menu, item: Item, req: LineRequest): CartLine {
  const chosen = req.modifiers ?? [];
  const names: string[] = [];
  for (const g of menu.modifier_groups) for (const m of g.modifiers) if (chosen.includes(m.id)) names.push(m.name);
  return {
    key: newKey(),
    item_id: item.id,
    name: item.name,
    modifiers: chosen,
    modifierNames: names,
    note: req.note?.trim() || null,
    quantity: req.quantity,
    unitPrice: unitPrice(menu, item, chosen),
  };
}

/** Adds a line, merging it into an identical one (same item, modifiers and note). */
export function addLine(lines: CartLine[], line: CartLine): CartLine[] {
  const same = (a: CartLine) =>
    a.item_id === line.item_id &&
    a.note === line.note &&
    a.modifiers.length === line.modifiers.length &&
    a.modifiers.every((m) => line.modifiers.includes(m));
  const i = lines.findIndex(same);
  if (i < 0) return [...lines, line];
  return lines.map((l, j) => (j === i ? { ...l, quantity: Math.min(99, l.quantity + line.quantity) } : l));
}

export interface Estimate {
  subtotal: number;
  discount: number;
  /** Before tax when the menu adds tax on top, the total when prices include it. */
  total: number;
  count: number;
}

/** What the till expects the order to cost; the server's pricing is the one that counts. */
export function estimate(cart: Cart): Estimate {
  const subtotal = cart.lines.reduce((s, l) => s + l.unitPrice * l.quantity, 0);
  const d = cart.discount;
  const discount = !d ? 0 : d.kind === "percent" ? Math.round((subtotal * d.value) / 10_000) : Math.min(d.value, subtotal);
  return { subtotal, discount, total: subtotal - discount, count: cart.lines.reduce((s, l) => s + l.quantity, 0) };
}

export function toDraft(cart: Cart): OrderDraft {
  const dineIn = cart.fulfillment === "dine_in";
  return {
    channel: "pos",
    fulfillment: cart.fulfillment,
    lines: cart.lines.map((l) => ({ item_id: l.item_id, quantity: l.quantity, modifiers: l.modifiers, note: l.note })),
    note: cart.note.trim() || null,
    table: dineIn ? cart.table.trim() || null : null,
    customer_name: dineIn ? null : cart.customerName.trim() || null,
    discount: cart.discount ? { kind: cart.discount.kind, value: cart.discount.value, reason: cart.discount.reason } : null,
  };
}

export function describeDiscount(d: { kind: "percent" | "amount"; value: number }, format: (minor: number) => string): string {
  return d.kind === "percent" ? `${d.value / 100}%` : format(d.value);
}

/** Minor digits of a currency (2 for USD, 0 for JPY). */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Quick-cash amounts above `due`: the next whole unit, then the next 5, 10, 20, 50, 100 (distinct, at most four). */
export function quickCash(due: number, currency: string): number[] {
  const unit = 10 ** minorDigits(currency);
  const out: number[] = [];
  for (const step of [1, 5, 10, 20, 50, 100]) {
    const v = Math.ceil(due / (step * unit)) * step * unit;
    if (v > due && !out.includes(v)) out.push(v);
  }
  return out.slice(0, 4);
}

/** Whether a failed request may have reached the server, so a retry must reuse its idempotency key. */
export function mayRetry(e: unknown): boolean {
  return e instanceof ApiError && (e.code === "network" || e.code === "request_in_flight" || e.status >= 502);
}

/**
 * Idempotency keys per till action ("place", "pay:<order id>", ...): a fresh key
 * for a new attempt, the same key when the same action with the same body is
 * tried again after a network error, so a retry never places or charges twice.
 */
export function useIdempotency() {
  const pending = useRef(new Map<string, { fingerprint: string; key: string }>());
  return useMemo(
    () => ({
      async run<T>(action: string, body: unknown, send: (key: string) => Promise<T>): Promise<T> {
        const fingerprint = JSON.stringify(body ?? null);
        let p = pending.current.get(action);
        if (!p || p.fingerprint !== fingerprint) {
          p = { fingerprint, key: newKey() };
          pending.current.set(action, p);
        }
        try {
          const r = await send(p.key);
          pending.current.delete(action);
          return r;
        } catch (e) {
          if (!mayRetry(e)) pending.current.delete(action);
          throw e;
        }
      },
      forget(action: string) {
        pending.current.delete(action);
      },
    }),
    [],
  );
}

export type Idempotency = ReturnType<typeof useIdempotency>;

/** The cart survives a reload of the tablet (without a discount: its approval would have expired). */
const CART_KEY = "edge.pos.cart";

export function loadCart(): Cart {
  try {
    const c = JSON.parse(localStorage.getItem(CART_KEY) ?? "null") as Partial<Cart> | null;
    if (!c || !Array.isArray(c.lines)) return emptyCart;
    return { ...emptyCart, ...c, discount: null };
  } catch {
    return emptyCart;
  }
}

export function saveCart(cart: Cart) {
  if (cart.lines.length === 0 && !cart.table && !cart.customerName && !cart.note) localStorage.removeItem(CART_KEY);
  else localStorage.setItem(CART_KEY, JSON.stringify({ ...cart, discount: null }));
}
