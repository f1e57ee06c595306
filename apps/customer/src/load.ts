// Loading something from the hub for a screen: its data, or the error in words, and a way to try again.
import { useEffect, useState } from "react";
import { words } from "./hub";

/** Runs `load` when `deps` change (not while `enabled` is false); stale answers are dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], enabled = true) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    setError(null);
    load()
      .then((d) => live && setData(d))
      .catch((e) => live && setError(words(e)));
    return () => {
      live = false;
    };
  }, [...deps, enabled, attempt]);
  return { data, error, retry: () => setAttempt((a) => a + 1) };
}
