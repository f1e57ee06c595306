// The organisation's live changes: the hub's merchant event socket
// (`GET /api/v1/orgs/{org_id}/events?access_token=…`) says which store changed,
// or `resync` when it may have missed something; the page reads the overview
// again. On a drop it reconnects after 1, 2, 4 … at most 30 s (full jitter), and
// an attempt that did not open first makes a hub call, which renews an expired
// access token, so the next one carries a fresh one. Every open, first or again,
// reads everything, since changes may have happened while away.
import { useEffect, useRef, useState } from "react";
import { currentAccount } from "./hub";

export type LinkState = "connecting" | "live" | "reconnecting";

const MAX_WAIT_MS = 30_000;

/**
 * Keeps a socket to the organisation's change stream while mounted. `reload`
 * is called on every open, `store_changed` and `resync`; `renew` before an
 * attempt that follows one that never opened (a hub call that refreshes the token).
 */
export function useOrgEvents(orgId: string, reload: () => void, renew: () => Promise<void>): LinkState {
  const [state, setState] = useState<LinkState>("connecting");
  // The latest callbacks, without reconnecting when they change.
  const on = useRef({ reload, renew });
  on.current = { reload, renew };

  useEffect(() => {
    let stopped = false;
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let opened = true;

    const connect = async () => {
      if (!opened) await on.current.renew().catch(() => {});
      if (stopped) return;
      const token = currentAccount()?.access ?? "";
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const url = `${scheme}://${location.host}/api/v1/orgs/${encodeURIComponent(orgId)}/events?access_token=${encodeURIComponent(token)}`;
      opened = false;
      const ws = new WebSocket(url);
      socket = ws;
      ws.onopen = () => {
        opened = true;
        failures = 0;
        setState("live");
        on.current.reload();
      };
      ws.onmessage = (m) => {
        let msg: { type?: string } | null = null;
        try {
          msg = JSON.parse(String(m.data)) as { type?: string };
        } catch {
          return;
        }
        if (msg?.type === "store_changed" || msg?.type === "resync") on.current.reload();
      };
      ws.onclose = () => {
        if (stopped || socket !== ws) return;
        socket = null;
        setState("reconnecting");
        failures += 1;
        const ceiling = Math.min(MAX_WAIT_MS, 1000 * 2 ** Math.min(failures - 1, 5));
        timer = setTimeout(() => void connect(), Math.max(250, Math.random() * ceiling));
      };
    };
    void connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [orgId]);

  return state;
}
