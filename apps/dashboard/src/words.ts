// Plain words for what the hub says in codes: errors, roles, order states,
// channels, device health. Nothing on screen is a status code or an enum.
import { HubError } from "./hub";

const ERRORS: Record<string, string> = {
  network: "We can't reach the hub. Check your connection and try again.",
  invalid_credentials: "That email and password don't match. Try again.",
  too_many_attempts: "Too many tries. Wait a minute, then try again.",
  unauthenticated: "Please sign in again.",
  token_revoked: "Please sign in again.",
  bad_token: "Please sign in again.",
  forbidden: "Your role doesn't allow this. Ask an owner of the organisation.",
  last_owner: "This is the organisation's last owner: make someone else an owner first, then try again.",
  not_found: "That is no longer there. Reload the page.",
  conflict: "Someone else changed this at the same time. Reload and try again.",
  internal: "Something went wrong on the hub's side. Please try again.",
  already_refunded: "This order was already refunded in full.",
  payment_unavailable: "Card refunds aren't working right now. Try again soon.",
};

/** A hub error in words: ours for the codes we know, the hub's own sentence for the rest. */
export function words(e: unknown): string {
  if (e instanceof HubError) {
    if (e.status === 403 && !ERRORS[e.code]) return ERRORS.forbidden;
    return ERRORS[e.code] ?? sentence(e.message);
  }
  return ERRORS.network;
}

function sentence(s: string): string {
  const t = s.replace(/_/g, " ");
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? "" : "."}`;
}

const ROLES: Record<string, string> = {
  owner: "Owner",
  manager: "Manager",
  cashier: "Cashier",
  kitchen: "Kitchen",
  customer: "Kiosk account",
};
export function roleWords(r: string | null | undefined): string {
  return (r && ROLES[r]) ?? "Other";
}
export const STAFF_ROLES = ["owner", "manager", "cashier", "kitchen"] as const;

const STATUS: Record<string, string> = {
  awaiting_payment: "Waiting for payment",
  payment_expired: "Payment not finished",
  open: "Open",
  placed: "New",
  accepted: "Accepted",
  in_preparation: "Being prepared",
  ready: "Ready",
  completed: "Picked up",
  paid: "Paid",
  cancelled: "Cancelled",
  voided: "Cancelled",
  refunded: "Refunded",
};
export function statusWords(s: unknown): string {
  return (typeof s === "string" && STATUS[s]) || "Updated";
}

const CHANNEL: Record<string, string> = { counter: "Counter", pos: "Counter", kiosk: "Kiosk", online: "Online", web: "Online" };
export function channelWords(c: unknown): string {
  return (typeof c === "string" && CHANNEL[c]) || "Other";
}

/** "just now", "5 minutes ago", "today at 14:05", "on 3 Dec at 14:05". */
export function timeWords(ms: number, now = Date.now()): string {
  const ago = Math.round((now - ms) / 60_000);
  if (ago < 1) return "just now";
  if (ago < 60) return `${ago} minute${ago === 1 ? "" : "s"} ago`;
  const d = new Date(ms);
  const hm = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (new Date(now).toDateString() === d.toDateString()) return `today at ${hm}`;
  return `on ${d.toLocaleDateString(undefined, { day: "numeric", month: "short" })} at ${hm}`;
}

/**
 * A device's health as the node reported it, in words: "Out of paper", "Cover open",
 * "Offline", "Working". Reads the flags whichever shape they come in.
 */
export function healthWords(health: unknown): { text: string; ok: boolean } {
  const h = (health && typeof health === "object" ? health : {}) as Record<string, unknown>;
  const p = (h.printer && typeof h.printer === "object" ? h.printer : {}) as Record<string, unknown>;
  const state = typeof h.state === "string" ? h.state : "";
  const problems: string[] = [];
  if (state === "offline") problems.push("Offline");
  if (p.paper_out === true) problems.push("Out of paper");
  else if (p.paper_near_end === true) problems.push("Paper running low");
  if (p.cover_open === true) problems.push("Cover open");
  if (p.error === true) problems.push("Printer fault");
  if (problems.length) return { text: problems.join(", "), ok: false };
  if (state === "attention") return { text: "Needs attention", ok: false };
  if (state === "online") return { text: "Working", ok: true };
  return { text: "Not heard from yet", ok: false };
}

const KINDS: Record<string, string> = { printer: "Printer", receipt_printer: "Receipt printer", kitchen_printer: "Kitchen printer", drawer: "Cash drawer", scale: "Scale", payment_terminal: "Card reader", terminal: "Card reader", display: "Display" };
export function kindWords(k: string | null | undefined): string {
  return (k && KINDS[k]) ?? "Device";
}
