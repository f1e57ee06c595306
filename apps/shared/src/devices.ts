// The store's devices (printers, card terminal, drawer, screens) as staff see
// them: what each is, how it is doing in words and colour, and a hook that
// keeps the list current from the event stream's device and print notices
// (`device.status` patches one device in place; `device.changed` and
// `print.job` re-read the list) without polling.
import { useCallback, useEffect, useRef, useState } from "react";
import { type Api, type DeviceKind, type DeviceView, type Health, call, describe } from "./api";

export const KIND_NAMES: Record<DeviceKind, string> = {
  receipt_printer: "Receipt printer",
  kitchen_printer: "Kitchen printer",
  card_terminal: "Card terminal",
  cash_drawer: "Cash drawer",
  kds_screen: "Kitchen screen",
  kiosk: "Kiosk",
};

export const isPrinter = (d: { kind: DeviceKind }) => d.kind === "receipt_printer" || d.kind === "kitchen_printer";

/** The colour a state is shown in: good, needs a person, broken, not known yet. */
export type Tone = "ok" | "warn" | "bad" | "unknown";

/** How a device is doing: a short `label` for a coloured pill, the `detail` behind it, and both as one `text`. */
export interface HealthWords {
  label: string;
  detail: string | null;
  text: string;
  tone: Tone;
}

const words = (label: string, tone: Tone, detail: string | null = null): HealthWords => ({
  label,
  detail,
  text: detail ? `${label}: ${detail}` : label,
  tone,
});

/**
 * How a device is doing, in the words a person at the counter needs:
 * "Out of paper", "Cover open", "Offline: connection refused", "Online".
 */
export function healthText(h: Health): HealthWords {
  const p = h.printer ?? null;
  if (h.state === "offline") return words("Offline", "bad", h.last_error ?? null);
  if (p?.paper_out) return words("Out of paper", "warn");
  if (p?.cover_open) return words("Cover open", "warn");
  if (p?.error) return words("Printer error", "warn", "check the printer (cutter, paper jam, overheating)");
  if (h.state === "attention") return words("Needs attention", "warn", h.last_error ?? null);
  if (h.state === "online") return p?.paper_near_end ? words("Paper running low", "warn") : words("Online", "ok");
  if (h.mqtt_connected) return words("Connected", "ok");
  // A card terminal is only spoken to during a payment: when it last answered is all there is to say.
  if (h.last_seen_ms) {
    const at = new Date(h.last_seen_ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    return words("Answered", "ok", `last at ${at}`);
  }
  return words("Not heard from yet", "unknown");
}

/** A device someone should look at: a printer or terminal that is stuck or gone, or jobs that failed. */
export function needsAttention(d: DeviceView): boolean {
  return d.dead_jobs > 0 || (d.active && (d.health.state === "attention" || d.health.state === "offline"));
}

/** Problems to count on a badge: devices in trouble plus failed print jobs (each counted once). */
export function problemCount(devices: readonly DeviceView[]): number {
  let n = 0;
  for (const d of devices) {
    if (d.active && (d.health.state === "attention" || d.health.state === "offline")) n += 1;
    n += d.dead_jobs;
  }
  return n;
}

/**
 * The device list, loaded once and re-read on `reload()`; `applyNotice` takes
 * the event stream's notices. Removed devices are kept (their failed jobs
 * still count) but marked `active: false`. Overlapping reloads collapse into
 * one more read after the current one, so a burst of notices costs two reads.
 */
export function useDevices(api: Api, enabled: boolean, onError?: (e: unknown) => void) {
  const [devices, setDevices] = useState<DeviceView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef(devices);
  latest.current = devices;
  const running = useRef(false);
  const again = useRef(false);
  const live = useRef(true);
  const errorHandler = useRef(onError);
  errorHandler.current = onError;

  const reload = useCallback(async () => {
    if (running.current) {
      again.current = true;
      return;
    }
    running.current = true;
    try {
      do {
        again.current = false;
        try {
          const r = await call(api.GET("/api/v1/devices", { params: { query: { include_removed: true } } }));
          if (!live.current) return;
          setDevices(r.devices);
          setError(null);
        } catch (e) {
          if (!live.current) return;
          setError(describe(e));
          errorHandler.current?.(e);
        }
      } while (again.current);
    } finally {
      running.current = false;
    }
  }, [api]);

  useEffect(() => {
    live.current = true;
    if (enabled) void reload();
    return () => {
      live.current = false;
    };
  }, [enabled, reload]);

  /** Handles a notice from the event stream; returns whether it was about devices or printing. */
  const applyNotice = useCallback(
    (n: { type: string; data: Record<string, unknown> }): boolean => {
      if (n.type === "device.status") {
        const id = n.data.id;
        const health = n.data.health as Health | undefined;
        if (typeof id !== "string" || !health || typeof health !== "object") return true;
        // A device this list has not seen yet (just registered): read the list again.
        if (!latest.current?.some((d) => d.id === id)) {
          void reload();
          return true;
        }
        setDevices((list) => list && list.map((d) => (d.id === id ? { ...d, health } : d)));
        return true;
      }
      if (n.type === "device.changed" || n.type === "print.job") {
        void reload();
        return true;
      }
      return false;
    },
    [reload],
  );

  return { devices, error, reload, applyNotice };
}
