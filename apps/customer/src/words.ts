// Plain words for what the hub says in codes: order statuses, a store's state, times.
import type { CustomerOrder, Ordering } from "./hub";

export type Status = CustomerOrder["status"];

const STATUS: Record<Status, string> = {
  awaiting_payment: "Waiting for your payment",
  payment_expired: "Payment not finished",
  placed: "Sent to the store",
  accepted: "Accepted",
  in_preparation: "Being prepared",
  ready: "Ready",
  completed: "Picked up",
  cancelled: "Cancelled",
  voided: "Cancelled",
  refunded: "Refunded",
};

/** A status in words ("Being prepared"), never the code; an unknown code reads "Updated". */
export function statusWords(s: string): string {
  return STATUS[s as Status] ?? "Updated";
}

/** The steps a pickup order goes through, in order, for the timeline. */
export const STEPS: Status[] = ["placed", "accepted", "in_preparation", "ready", "completed"];

/** "Open now", "Closed — opens at 11:00", "Not taking orders: …". */
export function orderingWords(o: Ordering): string {
  if (o.accepting) return "Open now";
  if (o.reason === "closed") {
    const at = opensAt(o.opens_at);
    return at ? `Closed — opens ${at}` : "Closed";
  }
  return `Not taking orders: ${o.message}`;
}

/** The store's next opening from its RFC 3339 time with the store's offset: "at 11:00", "tomorrow at 11:00", "Tue at 11:00". */
export function opensAt(iso: string | null | undefined, now = new Date()): string | null {
  if (!iso) return null;
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(iso);
  if (!m) return null;
  const time = `${m[4]}:${m[5]}`;
  const when = new Date(iso);
  const days = Math.floor((when.getTime() - now.getTime()) / 86_400_000);
  if (when.getTime() - now.getTime() < 18 * 3_600_000 && days === 0) return `at ${time}`;
  if (days <= 1) return `tomorrow at ${time}`;
  const day = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).toLocaleDateString("en", { weekday: "long", timeZone: "UTC" });
  return `${day} at ${time}`;
}

/** "just now", "5 minutes ago", "at 14:05", "on 3 Dec at 14:05". */
export function timeWords(ms: number, now = Date.now()): string {
  const ago = Math.round((now - ms) / 60_000);
  if (ago < 1) return "just now";
  if (ago < 60) return `${ago} minute${ago === 1 ? "" : "s"} ago`;
  const d = new Date(ms);
  const hm = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  if (new Date(now).toDateString() === d.toDateString()) return `today at ${hm}`;
  return `on ${d.toLocaleDateString(undefined, { day: "numeric", month: "short" })} at ${hm}`;
}

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/** The weekly hours (`{mon: [{open, close}], …}`) as lines: "Monday: 11:00–22:00" or "Monday: closed". */
export function hoursLines(hours: unknown): string[] {
  if (!hours || typeof hours !== "object") return [];
  const h = hours as Record<string, { open: string; close: string }[] | undefined>;
  return DAYS.map((d, i) => {
    const ranges = h[d] ?? [];
    return `${DAY_NAMES[i]}: ${ranges.length ? ranges.map((r) => `${r.open}–${r.close}`).join(", ") : "closed"}`;
  });
}
