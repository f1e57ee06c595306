// The customer's profile at the hub (name, phone, saved notes, favourite
// items), shared by every screen that shows it: loaded once per account,
// changed with PUT /me/profile (each field sent replaces the stored one).
import { useEffect, useSyncExternalStore } from "react";
import { type CustomerProfile, type ProfileUpdate, api, currentAccount, hub, onAccountChange } from "./hub";

let profile: CustomerProfile | null = null;
let loadedFor: string | null = null;
const listeners = new Set<() => void>();

function set(p: CustomerProfile | null) {
  profile = p;
  for (const l of listeners) l();
}

function subscribe(l: () => void) {
  listeners.add(l);
  return () => listeners.delete(l);
}

onAccountChange(() => {
  if (!currentAccount()) {
    loadedFor = null;
    set(null);
  }
});

/** Loads the profile for the signed-in account (once; `force` reads it again). */
export async function loadProfile(force = false): Promise<CustomerProfile | null> {
  const a = currentAccount();
  if (!a) return null;
  if (!force && loadedFor === a.email && profile) return profile;
  loadedFor = a.email;
  const p = await hub(() => api.GET("/api/v1/me/profile"));
  set(p);
  return p;
}

/** Saves a change; the hub's answer becomes the profile everyone sees. */
export async function saveProfile(update: ProfileUpdate): Promise<CustomerProfile> {
  const p = await hub(() => api.PUT("/api/v1/me/profile", { params: { header: { "Idempotency-Key": crypto.randomUUID() } }, body: update }));
  set(p);
  return p;
}

/** The profile of the signed-in customer (null until loaded or when signed out). */
export function useProfile(): CustomerProfile | null {
  const p = useSyncExternalStore(subscribe, () => profile);
  const account = useSyncExternalStore(onAccountChange, currentAccount);
  useEffect(() => {
    if (account) loadProfile().catch(() => undefined);
  }, [account?.email]);
  return account ? p : null;
}

/** Adds or removes an item from the favourites. */
export async function toggleFavourite(storeId: string, itemId: string): Promise<void> {
  const p = profile ?? (await loadProfile());
  if (!p) return;
  const has = p.favourites.some((f) => f.store_id === storeId && f.item_id === itemId);
  const favourites = has
    ? p.favourites.filter((f) => !(f.store_id === storeId && f.item_id === itemId))
    : [...p.favourites, { store_id: storeId, item_id: itemId }];
  await saveProfile({ favourites });
}
