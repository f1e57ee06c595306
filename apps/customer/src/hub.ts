// The customer's link to the hub: the account kept on this device and the
// typed client (shared with the dashboard: @edge/shared/hub-account), and hub
// errors worded for customers.
import { HubError, type HubSchemas } from "@edge/shared/hub-api";
import { type Account, type TokenPair, hubAccount } from "@edge/shared/hub-account";

export type PublicStore = HubSchemas["PublicStore"];
export type Ordering = HubSchemas["Ordering"];
export type PublicMenu = HubSchemas["PublicMenu"];
export type HubMenu = HubSchemas["Menu"];
export type HubItem = HubSchemas["Item"];
export type LineRequest = HubSchemas["LineRequest"];
export type PricedCart = HubSchemas["PricedCart"];
export type CustomerOrder = HubSchemas["CustomerOrder"];
export type PickupTimes = HubSchemas["PickupTimes"];
export type CustomerProfile = HubSchemas["CustomerProfile"];
export type ProfileUpdate = HubSchemas["ProfileUpdate"];

const account = hubAccount("edge.customer.account");
export const { api, hub, currentAccount, onAccountChange, keepSession, signOut, write } = account;

/** What we tell a customer for a hub error code; the hub's own sentence for the rest. */
const WORDS: Record<string, string> = {
  network: "We can't reach the ordering service. Check your connection and try again: nothing was ordered twice.",
  invalid_credentials: "That email and password don't match. Try again, or create an account.",
  email_taken: "There is already an account with that email. Sign in instead.",
  too_many_attempts: "Too many tries. Wait a minute, then try again.",
  unauthenticated: "Please sign in again.",
  token_revoked: "Please sign in again.",
  bad_token: "Please sign in again.",
  card_payments_unavailable: "Paying online by card isn't available here yet. Choose pay at pickup.",
  payment_unavailable: "Paying online by card isn't working right now. Choose pay at pickup, or try again soon.",
  pay_at_pickup_not_offered: "This store takes online payment only: choose pay by card.",
  internal: "Something went wrong on our side. Nothing was ordered; please try again.",
};

/** The hub's sentence leads where it names the thing (which item sold out, why the store is paused). */
const LEAD: Record<string, string> = {
  sold_out: "Sorry, something in your cart just sold out",
  unknown_item: "Something in your cart is no longer on the menu",
  invalid_modifiers: "Some choices are missing or too many",
};

/**
 * A hub error in words. `name` gives an item's or choice's name from its id,
 * so "line 0: garlic-knots is sold out" reads "Sorry, Garlic Knots just sold out".
 */
export function words(e: unknown, name?: (id: string) => string | undefined): string {
  if (e instanceof HubError) {
    if (e.code === "ordering_paused") return e.message;
    if (e.code === "pickup_time_unavailable") return `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}. Choose another pickup time.`;
    const m = /^line \d+: (\S+) is sold out$/.exec(e.message);
    const what = m && name?.(m[1]);
    if (e.code === "sold_out" && what) return `Sorry, ${what} just sold out. Remove it from your cart to place your order.`;
    const lead = LEAD[e.code];
    if (lead) return `${lead}: ${e.message}`;
    return WORDS[e.code] ?? e.message;
  }
  return WORDS.network;
}

export { HubError };
export type { Account, TokenPair };
