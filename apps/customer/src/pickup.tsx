// When to pick the order up: as soon as possible (the store's lead time), or a
// time the hub offers (every 15 minutes while the store is open, in the
// store's time zone). The hub checks the choice again when the order is placed.
import { useEffect } from "react";
import { type PickupTimes, api, hub } from "./hub";
import { useLoad } from "./load";

export function usePickupTimes(storeId: string) {
  const { data, retry } = useLoad(() => hub(() => api.GET("/api/v1/public/stores/{id}/pickup-times", { params: { path: { id: storeId } } })), [storeId]);
  return { times: data, reload: retry };
}

/** "12:30" from the store-local RFC 3339 time the hub gives. */
function clock(at: string): string {
  return at.slice(11, 16);
}

/** "Today", "Tomorrow" or the weekday, for a slot's store-local date against the store's today. */
function dayWords(at: string, today: string): string {
  const day = at.slice(0, 10);
  if (day === today) return "Today";
  const next = new Date(`${today}T12:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  if (day === next.toISOString().slice(0, 10)) return "Tomorrow";
  return new Date(`${day}T12:00:00Z`).toLocaleDateString("en", { weekday: "long", timeZone: "UTC" });
}

/** The pickup time picker: a select with "as soon as possible" first and the offered times by day. */
export function PickupChoice({
  times,
  value,
  onChange,
}: {
  times: PickupTimes | null;
  value: number | null;
  onChange: (at: number | null) => void;
}) {
  const slots = times?.slots ?? [];
  // A chosen time that is no longer offered falls back to as soon as possible.
  useEffect(() => {
    if (value !== null && times && !slots.some((s) => s.at_ms === value)) onChange(null);
  }, [times]);
  const days = new Map<string, typeof slots>();
  for (const s of slots) {
    const d = dayWords(s.at, times?.today ?? "");
    days.set(d, [...(days.get(d) ?? []), s]);
  }
  const asap = times?.asap_minutes ? `As soon as possible (about ${times.asap_minutes} minutes)` : "As soon as possible";
  return (
    <label>
      Pickup time
      <select value={value ?? ""} onChange={(e) => onChange(e.target.value ? Number(e.target.value) : null)} data-testid="pickup-time">
        <option value="">{asap}</option>
        {[...days].map(([day, list]) => (
          <optgroup key={day} label={day}>
            {list.map((s) => (
              <option key={s.at_ms} value={s.at_ms}>
                {day === "Today" ? clock(s.at) : `${day} ${clock(s.at)}`}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
    </label>
  );
}

/** "Pickup at 14:30" (in this device's time, 24-hour like the picker's times) for an order placed ahead. */
export function pickupWords(ms: number): string {
  const d = new Date(ms);
  // The picker offered "14:30"; the order must not then say "02:30 PM" (a browser in en-US would).
  const hm = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return new Date().toDateString() === d.toDateString() ? `Pickup at ${hm}` : `Pickup ${d.toLocaleDateString(undefined, { weekday: "long" })} at ${hm}`;
}
