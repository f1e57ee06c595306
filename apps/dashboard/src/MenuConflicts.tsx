// The menu's conflicts, at the top of the Menu page: a field of an item that
// was changed here (the hub) and at the store while the store was offline,
// each to something else. Both values are shown in plain words ("Price of
// Fries — here $5.25, at the store $4.75") with one button per value; the
// choice goes to the hub, which writes it over both and syncs it to the store.
// The box is gone when nothing is left to choose. Nothing shows while there
// are no conflicts, or when the store has no menu yet (the page says so). It
// looks again every 30 s and when the window gets the focus back, so a store
// coming back online shows its conflicts without a reload.
import { formatMoney } from "@edge/shared";
import type { HubSchemas } from "@edge/shared/hub-api";
import { useEffect, useState } from "react";
import type { StoreChoice } from "./App";
import { HubError, api, hub, write } from "./hub";
import { usePoll } from "./poll";
import { words } from "./words";
import { Said } from "./said";

type Conflicts = HubSchemas["MenuConflicts"];
type Conflict = HubSchemas["MenuConflict"];
type Choice = HubSchemas["MenuConflictValue"];

const FIELDS: Record<string, string> = {
  price: "Price",
  name: "Name",
  description: "Description",
  sold_out: "Availability",
  tax_class: "Tax class",
  station: "Kitchen station",
  category: "Category",
  modifier_groups: "Choices offered",
  image: "Picture",
  sku: "Stock code",
};

/** A value as people read it: money formatted, names for ids, on sale / sold out. */
function valueWords(field: string, v: Choice, currency: string): string {
  if (v.label) return v.label;
  const x = v.value;
  if (field === "price" && typeof x === "number") return formatMoney(x, currency);
  if (field === "sold_out") return x === true ? "sold out" : "on sale";
  if (typeof x === "string") return x.trim() === "" ? "(empty)" : `“${x}”`;
  if (x === null || x === undefined) return "(nothing)";
  if (typeof x === "boolean") return x ? "yes" : "no";
  return String(x);
}

/** Where a value was written; a second value from the same place is told apart. */
function placeWords(v: Choice, seen: Map<string, number>): string {
  const from = v.from ?? [];
  const base = from.length > 1 ? "in both places" : from[0] === "hub" ? "here" : from[0] === "store" ? "at the store" : "elsewhere";
  const n = (seen.get(base) ?? 0) + 1;
  seen.set(base, n);
  return n > 1 ? `${base} (another change)` : base;
}

function ConflictRow({ c, currency, busy, choose }: { c: Conflict; currency: string; busy: boolean; choose: (c: Conflict, v: Choice) => void }) {
  const what = `${FIELDS[c.field] ?? "A detail"} of ${c.item_name}`;
  const seen = new Map<string, number>();
  const rank = (v: Choice) => ["hub", "store"].indexOf(v.from?.[0] ?? "") >>> 0;
  const values = [...c.values].sort((a, b) => rank(a) - rank(b)).map((v) => ({ v, place: placeWords(v, seen), text: valueWords(c.field, v, currency) }));
  const id = `conflict-${c.item_id}-${c.field}`;
  return (
    <li style={{ display: "flex", flexDirection: "column", gap: "0.25rem", padding: "0.5rem 0" }}>
      <p id={id} style={{ margin: 0 }}>
        <strong>{what}</strong> — {values.map(({ place, text }) => `${place} ${text}`).join(", ")}
      </p>
      <div className="row wrap" role="group" aria-labelledby={id}>
        {values.map(({ v, text }, i) => (
          <button key={i} type="button" disabled={busy} aria-describedby={id} onClick={() => choose(c, v)}>
            Keep {text}
          </button>
        ))}
      </div>
    </li>
  );
}

export function MenuConflicts({ store, onResolved }: { store: StoreChoice; onResolved?: () => void }) {
  const [data, setData] = useState<Conflicts | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function load() {
    try {
      setData(await hub(() => api.GET("/api/v1/stores/{id}/menu/conflicts", { params: { path: { id: store.id } } })));
      setError(null);
    } catch (e) {
      // No menu yet (the Menu page says so itself), or a role that may not edit the menu: nothing to choose.
      if (e instanceof HubError && (e.status === 404 || e.status === 403)) setData(null);
      else setError(words(e));
    }
  }
  useEffect(() => setNote(null), [store.id]);
  // Conflicts appear when a store that was offline syncs again: looked for every 30 s and on focus.
  usePoll(load, 30_000, [store.id]);

  async function choose(c: Conflict, v: Choice) {
    if (!data) return;
    setBusy(true);
    setError(null);
    try {
      const left = await write((h) =>
        api.POST("/api/v1/stores/{id}/menu/conflicts/resolve", {
          params: { path: { id: store.id }, header: h },
          body: { item_id: c.item_id, field: c.field, value: v.value },
        }),
      );
      setData(left);
      setNote(`Kept ${valueWords(c.field, v, data.currency)} for the ${(FIELDS[c.field] ?? "detail").toLowerCase()} of ${c.item_name}. The store gets it the next time it syncs.`);
      onResolved?.();
    } catch (e) {
      setError(words(e));
      void load();
    } finally {
      setBusy(false);
    }
  }

  const open = data?.conflicts ?? [];
  if (open.length === 0 && !note && !error) return null;
  return (
    <div>
      <Said error={error} note={note} />
      {open.length > 0 && data && (
        <section className="card" aria-labelledby="menu-conflicts-title" style={{ borderLeft: "4px solid var(--warn)" }}>
          <h2 id="menu-conflicts-title">Changed in two places while the store was offline</h2>
          <p className="muted" style={{ marginTop: 0 }}>
            Everyone sees one of the two values for now. Choose the one to keep; the store gets your choice the next time it syncs.
          </p>
          <ul className="plain">
            {open.map((c) => (
              <ConflictRow key={`${c.item_id}/${c.field}`} c={c} currency={data.currency} busy={busy} choose={(cc, v) => void choose(cc, v)} />
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
