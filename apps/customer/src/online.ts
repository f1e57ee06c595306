// Whether the browser says it has a network: `navigator.onLine` and its
// online/offline events. "Online" can still mean a network that reaches
// nothing (the hub's errors say so); "offline" is certain, so the app says it
// at once and keeps ordering, which needs the hub, out of reach.
import { useSyncExternalStore } from "react";

function subscribe(changed: () => void): () => void {
  window.addEventListener("online", changed);
  window.addEventListener("offline", changed);
  return () => {
    window.removeEventListener("online", changed);
    window.removeEventListener("offline", changed);
  };
}

/** True while the browser has a network connection; the component renders again when that changes. */
export function useOnline(): boolean {
  return useSyncExternalStore(subscribe, () => navigator.onLine);
}

/** What the app says while offline: the banner, and why ordering waits. */
export const OFFLINE_WORDS = "You're offline. You can look at the menu; ordering needs a connection.";
