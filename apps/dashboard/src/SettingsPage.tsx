// A store's settings: a pause of online ordering for a while (PauseCard, acting
// at once), then the form: name, address, time zone, weekly hours and dated
// exceptions (holidays, special hours), pickup lead time,
// online ordering and pay at pickup, and the kitchen-backlog thresholds (later
// pickups per open ticket, pausing online ordering while the kitchen is busy). A refusal (422) is shown next to the field
// it names; what names no field goes above the form.
import { type FormEvent, useEffect, useState } from "react";
import type { StoreChoice } from "./App";
import { HubError, api, hub, write } from "./hub";
import { Problem } from "./said";
import { PauseCard } from "./PauseCard";
import { words } from "./words";
import { Said } from "./said";

type Range = { open: string; close: string };
/** A dated exception to the weekly hours, as the hub keeps it. */
type Exception = { date: string; closed?: boolean; ranges?: Range[] };
type Hours = Partial<Record<Day, Range[]>>;
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
type Day = (typeof DAYS)[number];
const DAY_NAMES: Record<Day, string> = { mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday", sat: "Saturday", sun: "Sunday" };

interface Form {
  name: string;
  address: string;
  timezone: string;
  lead: string;
  online: boolean;
  payAtPickup: boolean;
  /** The store has weekly hours; without, it takes orders whenever a store server is online. */
  hasHours: boolean;
  hours: Record<Day, { open: boolean; from: string; to: string }>;
  /** Dated exceptions: closed that day, or open at other hours. */
  exceptions: { date: string; closed: boolean; from: string; to: string }[];
  /** Open kitchen tickets from which pickups are quoted later ("" : not set). */
  slowAt: string;
  /** Extra minutes per ticket beyond `slowAt`. */
  perTicket: string;
  /** Open tickets at which online ordering pauses ("": never). */
  pauseAt: string;
}
type Field = "name" | "address" | "timezone" | "lead" | "hours" | "backlog";

function toForm(s: Record<string, unknown>, storeName: string): Form {
  const hours = (s.hours ?? {}) as Hours;
  return {
    name: String(s.name ?? storeName),
    address: String(s.address ?? ""),
    timezone: String(s.timezone ?? "UTC"),
    lead: String(s.pickup_lead_minutes ?? 15),
    online: s.online_ordering !== false,
    payAtPickup: s.pay_at_pickup !== false,
    hasHours: Boolean(s.hours && typeof s.hours === "object"),
    slowAt: s.backlog_slow_at == null ? "" : String(s.backlog_slow_at),
    perTicket: s.backlog_quote_per_ticket_minutes == null ? "" : String(s.backlog_quote_per_ticket_minutes),
    pauseAt: !s.backlog_pause_at ? "" : String(s.backlog_pause_at),
    exceptions: ((s.hours_exceptions ?? []) as Exception[]).map((x) => ({
      date: x.date,
      closed: Boolean(x.closed) || !x.ranges?.length,
      from: x.ranges?.[0]?.open ?? "11:00",
      to: x.ranges?.[0]?.close ?? "22:00",
    })),
    hours: Object.fromEntries(
      DAYS.map((d) => {
        const r = hours[d]?.[0];
        return [d, { open: Boolean(r), from: r?.open ?? "11:00", to: r?.close ?? "22:00" }];
      }),
    ) as Form["hours"],
  };
}

/** Which field a refusal is about, from the hub's code and sentence. */
function fieldOf(e: HubError): Field | null {
  if (e.code === "invalid_timezone") return "timezone";
  const m = e.message.toLowerCase();
  if (m.startsWith("address")) return "address";
  if (m.startsWith("name")) return "name";
  if (m.includes("pickup_lead")) return "lead";
  if (m.includes("backlog")) return "backlog";
  if (/hours|hh:mm|range|open|close|weekday/.test(m) || e.code.includes("hours") || e.code.includes("range")) return "hours";
  return null;
}

export function SettingsPage({ store }: { store: StoreChoice }) {
  const [form, setForm] = useState<Form | null>(null);
  /** The settings as the hub last answered (the pause reads them). */
  const [raw, setRaw] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<{ field: Field; text: string } | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function load() {
    setError(null);
    try {
      const s = (await hub(() => api.GET("/api/v1/stores/{id}/settings", { params: { path: { id: store.id } } }))) as Record<string, unknown>;
      setForm(toForm(s, store.name));
      setRaw(s);
    } catch (e) {
      setError(words(e));
    }
  }
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store.id]);

  if (error && !form) return <Problem text={error} retry={load} />;
  if (!form || !raw) return <p aria-live="polite">Loading the settings…</p>;
  const f = form;
  const set = (p: Partial<Form>) => {
    setForm({ ...f, ...p });
    setNote(null);
  };

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setFieldError(null);
    const lead = Number(f.lead);
    if (!/^\d+$/.test(f.lead.trim()) || lead > 1440) {
      setFieldError({ field: "lead", text: "Type a number of minutes from 0 to 1440." });
      return;
    }
    const count = (t: string, max: number) => (/^\d+$/.test(t.trim()) && Number(t) <= max ? Number(t) : null);
    const backlog: Record<string, number> = {};
    for (const [key, text, max, what] of [
      ["backlog_slow_at", f.slowAt, 1000, "the tickets from which pickups are quoted later (0 to 1000)"],
      ["backlog_quote_per_ticket_minutes", f.perTicket, 60, "the extra minutes per ticket (0 to 60)"],
      ["backlog_pause_at", f.pauseAt, 1000, "the tickets at which online ordering pauses (1 to 1000, or empty for never)"],
    ] as const) {
      if (!text.trim()) {
        // An empty pause threshold means never pause (the hub's 0); the others stay as they are.
        if (key === "backlog_pause_at") backlog[key] = 0;
        continue;
      }
      const n = count(text, max);
      if (n === null) {
        setFieldError({ field: "backlog", text: `Type a whole number for ${what}.` });
        return;
      }
      backlog[key] = n;
    }
    const hours: Hours = {};
    for (const d of DAYS) if (f.hours[d].open) hours[d] = [{ open: f.hours[d].from, close: f.hours[d].to }];
    const exceptions: Exception[] = f.exceptions.map((x) => (x.closed ? { date: x.date, closed: true } : { date: x.date, ranges: [{ open: x.from, close: x.to }] }));
    if (exceptions.some((x) => !/^\d{4}-\d\d-\d\d$/.test(x.date))) {
      setFieldError({ field: "hours", text: "Choose a date for every exception." });
      return;
    }
    setBusy(true);
    try {
      const s = (await write((h) =>
        api.PUT("/api/v1/stores/{id}/settings", {
          params: { path: { id: store.id }, header: h },
          body: {
            name: f.name.trim(),
            address: f.address.trim() || null,
            timezone: f.timezone.trim(),
            pickup_lead_minutes: lead,
            online_ordering: f.online,
            pay_at_pickup: f.payAtPickup,
            ...(f.hasHours ? { hours } : {}),
            hours_exceptions: exceptions,
            ...backlog,
          },
        }),
      )) as Record<string, unknown>;
      setForm(toForm(s, store.name));
      setRaw(s);
      setNote("Settings saved.");
    } catch (err) {
      const field = err instanceof HubError && err.status === 422 ? fieldOf(err) : null;
      if (field === "backlog" && err instanceof HubError && err.message.includes("must be above"))
        setFieldError({ field, text: "Pause online ordering at more open tickets than those from which pickups are quoted later." });
      else if (field) setFieldError({ field, text: words(err) });
      else setError(words(err));
    } finally {
      setBusy(false);
    }
  }

  const errFor = (field: Field) =>
    fieldError?.field === field ? (
      <span className="problem small" id={`err-${field}`} role="alert">
        {fieldError.text}
      </span>
    ) : null;
  const described = (field: Field) => (fieldError?.field === field ? { "aria-invalid": true, "aria-describedby": `err-${field}` } : {});

  return (
    <section>
      <h1>Settings</h1>
      <PauseCard storeId={store.id} settings={raw} onSaved={setRaw} />
      <form className="card stack settings" onSubmit={save}>
        <label>
          Store name
          <input required value={f.name} onChange={(e) => set({ name: e.target.value })} {...described("name")} />
          {errFor("name")}
        </label>
        <label>
          Address
          <input value={f.address} onChange={(e) => set({ address: e.target.value })} {...described("address")} />
          {errFor("address")}
        </label>
        <label>
          Time zone of the opening hours
          <input value={f.timezone} placeholder="Europe/Berlin" onChange={(e) => set({ timezone: e.target.value })} {...described("timezone")} />
          {errFor("timezone")}
        </label>
        <label>
          Minutes to get a pickup order ready
          <input inputMode="numeric" value={f.lead} onChange={(e) => set({ lead: e.target.value })} {...described("lead")} />
          {errFor("lead")}
        </label>
        <label className="check">
          <input type="checkbox" checked={f.online} onChange={(e) => set({ online: e.target.checked })} />
          Take online orders
        </label>
        <label className="check">
          <input type="checkbox" checked={f.payAtPickup} onChange={(e) => set({ payAtPickup: e.target.checked })} />
          Customers may pay at pickup
        </label>
        <fieldset>
          <legend>Opening hours</legend>
          {errFor("hours")}
          {!f.hasHours ? (
            <>
              <p className="muted">No weekly hours are set: online orders are taken whenever a store server is online.</p>
              <button type="button" onClick={() => set({ hasHours: true })}>
                Set opening hours
              </button>
            </>
          ) : (
            <div className="hours-grid">
              {DAYS.map((d) => {
                const h = f.hours[d];
                const setDay = (p: Partial<Form["hours"][Day]>) => set({ hours: { ...f.hours, [d]: { ...h, ...p } } });
                return (
                  <div key={d} className="hours-row">
                    <label className="check">
                      <input type="checkbox" checked={h.open} onChange={(e) => setDay({ open: e.target.checked })} />
                      {DAY_NAMES[d]}
                    </label>
                    {h.open ? (
                      <>
                        <label className="field-inline">
                          <span>Opens on {DAY_NAMES[d]}</span>
                          <input type="time" value={h.from} onChange={(e) => setDay({ from: e.target.value })} />
                        </label>
                        <label className="field-inline">
                          <span>Closes on {DAY_NAMES[d]}</span>
                          <input type="time" value={h.to} onChange={(e) => setDay({ to: e.target.value })} />
                        </label>
                      </>
                    ) : (
                      <span className="muted">Closed</span>
                    )}
                  </div>
                );
              })}
            </div>
          )}
        </fieldset>
        <fieldset>
          <legend>Holidays and special hours</legend>
          {f.exceptions.length === 0 && <p className="muted">No dated exceptions: every date follows the weekly hours.</p>}
          {f.exceptions.map((x, i) => {
            const setX = (p: Partial<Form["exceptions"][number]>) => set({ exceptions: f.exceptions.map((y, j) => (j === i ? { ...y, ...p } : y)) });
            const name = x.date || "the new date";
            return (
              <div key={i} className="hours-row" data-exception={x.date}>
                <label className="field-inline">
                  <span>Date</span>
                  <input type="date" value={x.date} onChange={(e) => setX({ date: e.target.value })} />
                </label>
                <label className="check">
                  <input type="checkbox" checked={x.closed} onChange={(e) => setX({ closed: e.target.checked })} />
                  Closed all day
                </label>
                {!x.closed && (
                  <>
                    <label className="field-inline">
                      <span>Opens on {name}</span>
                      <input type="time" value={x.from} onChange={(e) => setX({ from: e.target.value })} />
                    </label>
                    <label className="field-inline">
                      <span>Closes on {name}</span>
                      <input type="time" value={x.to} onChange={(e) => setX({ to: e.target.value })} />
                    </label>
                  </>
                )}
                <button type="button" onClick={() => set({ exceptions: f.exceptions.filter((_, j) => j !== i) })}>
                  Remove {name}
                </button>
              </div>
            );
          })}
          <button type="button" onClick={() => set({ exceptions: [...f.exceptions, { date: "", closed: true, from: "11:00", to: "22:00" }] })}>
            Add a holiday or special hours
          </button>
        </fieldset>
        <fieldset>
          <legend>When the kitchen is busy</legend>
          <p className="muted small">
            The store server reports the kitchen's open tickets. From the first number on, online customers are quoted a later
            pickup; at the last, online ordering pauses by itself until the kitchen catches up.
          </p>
          {errFor("backlog")}
          <div className="backlog-grid">
            <label>
              Quote later pickups from this many open tickets
              <input inputMode="numeric" value={f.slowAt} onChange={(e) => set({ slowAt: e.target.value })} {...described("backlog")} />
            </label>
            <label>
              Extra minutes for each ticket beyond that
              <input inputMode="numeric" value={f.perTicket} onChange={(e) => set({ perTicket: e.target.value })} {...described("backlog")} />
            </label>
            <label>
              Pause online ordering at this many open tickets
              <input inputMode="numeric" value={f.pauseAt} placeholder="Never" onChange={(e) => set({ pauseAt: e.target.value })} {...described("backlog")} />
            </label>
          </div>
        </fieldset>
        <Said error={error} note={note} />
        <button className="primary" type="submit" disabled={busy}>
          {busy ? "Saving…" : "Save settings"}
        </button>
      </form>
    </section>
  );
}
