// Keeps a page's data fresh: loads now, every `ms` while the page is visible,
// and when the window gets the focus back.
import { useEffect } from "react";

export function usePoll(load: () => Promise<void> | void, ms: number, deps: unknown[]) {
  useEffect(() => {
    void load();
    const t = setInterval(() => {
      if (document.visibilityState === "visible") void load();
    }, ms);
    const on = () => void load();
    addEventListener("focus", on);
    return () => {
      clearInterval(t);
      removeEventListener("focus", on);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}
