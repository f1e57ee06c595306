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
  invalid_code: "This code is not valid. Codes last 10 minutes and work once: make a new one.",
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
  const hm = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
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
  const dead = typeof h.dead_jobs === "number" ? h.dead_jobs : 0;
  if (dead > 0) problems.push(dead === 1 ? "A print job failed: reprint it at the till" : `${dead} print jobs failed: reprint them at the till`);
  if (problems.length) return { text: problems.join(", "), ok: false };
  if (state === "attention") return { text: "Needs attention", ok: false };
  if (state === "online") return { text: "Working", ok: true };
  return { text: "Not heard from yet", ok: false };
}

const KINDS: Record<string, string> = { printer: "Printer", receipt_printer: "Receipt printer", kitchen_printer: "Kitchen printer", drawer: "Cash drawer", scale: "Scale", payment_terminal: "Card reader", terminal: "Card reader", display: "Display" };
export function kindWords(k: string | null | undefined): string {
  return (k && KINDS[k]) ?? "Device";
}

/** "14:05" today, "3 Dec at 14:05" on another day. */
export function clockWords(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const hm = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  if (new Date(now).toDateString() === d.toDateString()) return hm;
  return `${d.toLocaleDateString(undefined, { day: "numeric", month: "short" })} at ${hm}`;
}

/** How long something has been away: "Away for 12 minutes (since 14:05)". */
export function awayWords(since: number, now = Date.now()): string {
  const mins = Math.floor((now - since) / 60_000);
  if (mins < 1) return `Away for less than a minute (since ${clockWords(since, now)})`;
  return `Away for ${durationWords(mins * 60)} (since ${clockWords(since, now)})`;
}

/** A number of seconds as people say it: "under a minute", "4 minutes", "2 hours 5 minutes". */
export function durationWords(secs: number): string {
  const mins = Math.floor(secs / 60);
  if (mins < 1) return "under a minute";
  const h = Math.floor(mins / 60);
  const m = mins % 60;
  const mw = `${m} minute${m === 1 ? "" : "s"}`;
  if (h === 0) return mw;
  const hw = `${h} hour${h === 1 ? "" : "s"}`;
  return m === 0 ? hw : `${hw} ${mw}`;
}

/** A kitchen station's name from the menu, or its id made readable. */
export function stationName(id: string, names?: Record<string, string>): string {
  const n = names?.[id];
  if (n) return n;
  const t = id.replace(/[-_]+/g, " ").trim();
  return t ? `${t.charAt(0).toUpperCase()}${t.slice(1)}` : "Kitchen";
}

const PROBLEMS: Record<string, string> = {
  paper_out: "Out of paper",
  cover_open: "Cover open",
  printer_error: "Printer fault",
  offline: "Offline",
  attention: "Needs attention",
  print_failed: "Something did not print: reprint it at the till (Devices)",
};

/** A device that needs a person: its name and what is wrong, in words. */
export function attentionWords(d: { name?: string | null; kind?: string | null; problem: string }): { what: string; problem: string } {
  return { what: d.name || kindWords(d.kind), problem: PROBLEMS[d.problem] ?? "Needs attention" };
}

interface Kitchen {
  open_tickets: number;
  extra_pickup_minutes: number;
  throttle?: string | null;
}
const tickets = (n: number) => `${n} ${n === 1 ? "ticket is" : "tickets are"} waiting`;

/** What the kitchen's backlog does to online ordering now. */
export function kitchenEffect(k: Kitchen): string {
  if (k.throttle === "paused") return `Online ordering paused: the kitchen is busy. ${cap(tickets(k.open_tickets))}.`;
  if (k.throttle === "slow" || k.extra_pickup_minutes > 0)
    return `Pickup quoted ${k.extra_pickup_minutes} minute${k.extra_pickup_minutes === 1 ? "" : "s"} later because ${tickets(k.open_tickets)}.`;
  if (k.open_tickets === 0) return "No tickets waiting.";
  return `${cap(tickets(k.open_tickets))}; online ordering is not affected.`;
}

function cap(s: string): string {
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}`;
}

/**
 * Whether a store takes online orders now, in words for its owner: a short
 * state for the tag, the reason in a sentence, and a tone.
 */
export function orderingWords(
  o: { accepting: boolean; reason?: string | null; message: string },
  kitchen: Kitchen | null,
): { state: string; why: string; tone: "ok" | "warn" | "bad" } {
  if (o.accepting) {
    if (kitchen && (kitchen.throttle === "slow" || kitchen.extra_pickup_minutes > 0))
      return { state: "Taking online orders, later pickups", why: kitchenEffect(kitchen), tone: "warn" };
    return { state: "Taking online orders", why: "Customers can order online now.", tone: "ok" };
  }
  switch (o.reason) {
    case "disabled":
      return { state: "Online ordering off", why: "Online ordering is switched off in this store's settings.", tone: "bad" };
    case "closed":
      return { state: "Closed", why: o.message, tone: "warn" };
    case "store_offline":
      return {
        state: "Online ordering paused",
        why: "Online ordering paused: the store server is not connected, so orders could not reach the kitchen.",
        tone: "bad",
      };
    case "kitchen_busy":
      return {
        state: "Online ordering paused",
        why: `Online ordering paused: the kitchen is busy${kitchen ? ` (${tickets(kitchen.open_tickets)})` : ""}. It starts again by itself when the kitchen catches up.`,
        tone: "bad",
      };
    case "paused":
      return { state: "Online ordering paused", why: `Paused from Settings. Customers are told: “${o.message}”`, tone: "warn" };
    default:
      return { state: "Not taking online orders", why: o.message, tone: "bad" };
  }
}

const SALES_CHANNELS: Record<string, string> = { pos: "Till", counter: "Till", kiosk: "Kiosk", online: "Online", web: "Online" };
/** A sales channel in the report's words: Till, Kiosk, Online. */
export function salesChannelWords(c: string): string {
  return SALES_CHANNELS[c] ?? "Other";
}

const TENDERS: Record<string, string> = { cash: "Cash", card: "Card at the till", online_card: "Card online", other: "Other" };
export function tenderWords(t: string): string {
  return TENDERS[t] ?? "Other";
}

/** Pairing a store server: the one line an installer reads next to the code. */
export const PAIRING_INSTRUCTIONS = "On the new store server, enter this code, or give it to the flashing tool.";

/** "9 minutes 58 seconds left", "42 seconds left", "Expired": a pairing code's time to live. */
export function timeLeftWords(ms: number): string {
  if (ms <= 0) return "Expired: make a new code";
  const s = Math.ceil(ms / 1000);
  const m = Math.floor(s / 60);
  const r = s % 60;
  const secs = `${r} second${r === 1 ? "" : "s"}`;
  if (m === 0) return `${secs} left`;
  return `${m} minute${m === 1 ? "" : "s"}${r ? ` ${secs}` : ""} left`;
}
