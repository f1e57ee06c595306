// The live event stream (/api/v1/events) as a React hook: reconnects with
// backoff and jitter, resumes from the last cursor it processed, and drops
// anything at or below it, so no ticket is missed or shown twice.
//
// A cursor is a position in one node database's log, which the server names
// (`log`). When the node at this address has another log (it was replaced, or
// its database started afresh) the server says `reset` and replays its whole
// log: the hook starts again from 0 and tells the app to drop what it built.
import { useEffect, useRef, useState } from "react";

export interface StoreEvent {
  cursor: number;
  id: string;
  type: "order.created" | "order.changed" | "menu.changed" | "payment.recorded" | string;
  at_ms: number;
  data: Record<string, unknown>;
}

export type LinkStatus = "connecting" | "live" | "offline";

export interface EventStreamOptions {
  token: string | null;
  onEvent: (e: StoreEvent) => void;
  /** After the backlog is replayed (first connect and every reconnect). */
  onCaughtUp?: (cursor: number) => void;
  /**
   * The node's log is not the one the cursor came from: forget every order
   * built from events so far; the new log's events follow from the start.
   */
  onReset?: () => void;
  /** Start from here instead of the beginning of the log (e.g. a cursor saved by the app). */
  startCursor?: number;
  /** Notices: messages without a cursor, such as `sync.status` (the hub link). */
  onNotice?: (n: { type: string; data: Record<string, unknown> }) => void;
}

type StreamControl = { type: "caught_up" | "reset"; cursor: number; log?: string };

export function useEventStream({ token, onEvent, onCaughtUp, onNotice, onReset, startCursor = 0 }: EventStreamOptions): LinkStatus {
  const [status, setStatus] = useState<LinkStatus>("connecting");
  const handlers = useRef({ onEvent, onCaughtUp, onNotice, onReset });
  handlers.current = { onEvent, onCaughtUp, onNotice, onReset };
  const cursor = useRef(startCursor);
  /** The log the cursor is from, once the node has named it. */
  const log = useRef<string | null>(null);

  useEffect(() => {
    if (!token) return;
    let ws: WebSocket | null = null;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const connect = () => {
      setStatus((s) => (s === "live" ? "connecting" : s));
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const logParam = log.current ? `&log=${encodeURIComponent(log.current)}` : "";
      ws = new WebSocket(
        `${scheme}://${location.host}/api/v1/events?cursor=${cursor.current}${logParam}&token=${encodeURIComponent(token)}`,
      );
      ws.onmessage = (m) => {
        let msg: StoreEvent | StreamControl;
        try {
          msg = JSON.parse(String(m.data));
        } catch {
          return;
        }
        if (msg.type === "reset") {
          cursor.current = 0;
          log.current = (msg as StreamControl).log ?? null;
          handlers.current.onReset?.();
          return;
        }
        if (msg.type === "caught_up") {
          log.current = (msg as StreamControl).log ?? log.current;
          attempt = 0;
          setStatus("live");
          handlers.current.onCaughtUp?.(msg.cursor);
          return;
        }
        const e = msg as StoreEvent;
        if (typeof e.cursor !== "number") {
          // A notice (no cursor): never moves the resume position.
          handlers.current.onNotice?.(msg as { type: string; data: Record<string, unknown> });
          return;
        }
        if (e.cursor <= cursor.current) return;
        cursor.current = e.cursor;
        handlers.current.onEvent(e);
      };
      ws.onclose = () => {
        if (stopped) return;
        setStatus("offline");
        const base = Math.min(8000, 500 * 2 ** attempt++);
        timer = setTimeout(connect, base / 2 + Math.random() * (base / 2));
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      ws?.close();
    };
  }, [token]);

  return status;
}
