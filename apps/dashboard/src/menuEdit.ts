// The menu editor's plain rules, apart from the screen: ids made from names
// (never shown), how many changes wait against the hub's menu, tax classes in
// words, and which field a hub refusal of the menu names (from
// `domain::menu::MenuError`'s sentences: the hub answers 422 `invalid_menu`).
import type { HubSchemas } from "@edge/shared/hub-api";
import type { Item, Menu } from "./hub";

export type TaxClass = HubSchemas["TaxClass"];

/** Ids are `[A-Za-z0-9._-]{1,64}` (`domain::Ident`); a base of 56 leaves room for "-123". */
const ID_BASE_MAX = 56;

/**
 * An id made from `name`: lower-case ASCII words joined by dashes ("Crème Brûlée & Co"
 * -> "creme-brulee-and-co"), made unique against `taken` with "-2", "-3"…
 */
export function slug(name: string, taken: Set<string>, fallback: string): string {
  const base =
    name
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/&/g, " and ")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, ID_BASE_MAX)
      .replace(/-+$/, "") || fallback;
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  return id;
}

/** A tax class as people read it: "Prepared food 8.25%". */
export function taxWords(t: TaxClass): string {
  return `${t.name} ${Number((t.rate_bp / 100).toFixed(2))}%`;
}

const ITEM_FIELDS = ["name", "description", "category", "price", "tax_class", "station", "image", "modifier_groups"] as const;

function same(a: unknown, b: unknown): boolean {
  const norm = (v: unknown) => (v === undefined ? null : v);
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}
function itemField(i: Item, f: (typeof ITEM_FIELDS)[number]): unknown {
  if (f === "description") return i.description ?? "";
  if (f === "modifier_groups") return i.modifier_groups ?? [];
  return i[f];
}

/**
 * How many changes `now` holds against `saved`: each changed field of an item,
 * category or choice group counts one, as does each item or category added or
 * removed, and a new order of the categories.
 */
export function changeCount(saved: Menu, now: Menu): number {
  let n = 0;
  const items = new Map(saved.items.map((i) => [i.id, i]));
  for (const i of now.items) {
    const b = items.get(i.id);
    if (!b) n++;
    else for (const f of ITEM_FIELDS) if (!same(itemField(b, f), itemField(i, f))) n++;
  }
  const nowItems = new Set(now.items.map((i) => i.id));
  n += saved.items.filter((i) => !nowItems.has(i.id)).length;
  const cats = new Map(saved.categories.map((c) => [c.id, c]));
  for (const c of now.categories) {
    const b = cats.get(c.id);
    if (!b) n++;
    else if (b.name !== c.name) n++;
  }
  const nowCats = new Set(now.categories.map((c) => c.id));
  n += saved.categories.filter((c) => !nowCats.has(c.id)).length;
  const kept = now.categories.map((c) => c.id).filter((id) => cats.has(id));
  const before = saved.categories.map((c) => c.id).filter((id) => nowCats.has(id));
  if (kept.join("\n") !== before.join("\n")) n++;
  const groups = new Map(saved.modifier_groups.map((g) => [g.id, g]));
  for (const g of now.modifier_groups) {
    const b = groups.get(g.id);
    if (b && b.min !== g.min) n++;
    if (b && b.max !== g.max) n++;
  }
  return n;
}

/** "1 change", "3 changes". */
export function changesWords(n: number): string {
  return `${n} change${n === 1 ? "" : "s"}`;
}

/** A field the hub named in refusing the menu: where to show it, and what to say there. */
export interface FieldProblem {
  /** `item:<id>:<field>`, `category:<id>:name` or `group:<id>:bounds`. */
  key: string;
  /** The item to open so the field is seen (null for categories and groups). */
  item: string | null;
  text: string;
}

const REF_FIELD: Record<string, [string, string]> = {
  category: ["category", "Choose a category that is on the menu."],
  "tax class": ["tax_class", "Choose a tax class that is on the menu."],
  station: ["station", "Choose a kitchen station that is on the menu."],
  "modifier group": ["modifier_groups", "One of the choices offered is no longer on the menu: untick it."],
};

/**
 * The field a hub refusal of the menu names, read from its sentence; null
 * when it names none this page shows (the page then says it in an alert).
 */
export function fieldProblem(message: string, menu: Menu): FieldProblem | null {
  const isItem = (id: string) => menu.items.some((i) => i.id === id);
  let m = /^item (\S+) refers to unknown (category|tax class|station|modifier group) /.exec(message);
  if (m && isItem(m[1])) {
    const [field, text] = REF_FIELD[m[2]];
    return { key: `item:${m[1]}:${field}`, item: m[1], text };
  }
  m = /^modifier group (\S+): min must be/.exec(message);
  if (m) {
    const g = menu.modifier_groups.find((x) => x.id === m![1]);
    if (g)
      return {
        key: `group:${g.id}:bounds`,
        item: null,
        text: `The most must be at least 1 and at most ${g.modifiers.length} (the number of choices), and the fewest no more than the most.`,
      };
  }
  m = /^(\S+): price out of range/.exec(message);
  if (m && isItem(m[1])) return { key: `item:${m[1]}:price`, item: m[1], text: "A price can be from 0 to 100,000.00." };
  m = /^(\S+): name must be 1 to 100 characters/.exec(message);
  if (m) {
    if (isItem(m[1])) return { key: `item:${m[1]}:name`, item: m[1], text: "A name needs 1 to 100 characters." };
    if (menu.categories.some((c) => c.id === m![1])) return { key: `category:${m[1]}:name`, item: null, text: "A name needs 1 to 100 characters." };
  }
  return null;
}

/** Why a name cannot be used, in words; null when it can. */
export function nameProblem(name: string): string | null {
  const n = [...name.trim()].length;
  if (n === 0) return "Type a name.";
  if (n > 100) return `That name is ${n} characters long; a name can be up to 100.`;
  return null;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const hasIds = (v: unknown): v is { id: string }[] =>
  Array.isArray(v) && v.every((x) => x !== null && typeof x === "object" && typeof (x as { id?: unknown }).id === "string");

/**
 * Three-way merge of one value: what this page started from (`base`), what it
 * made of it (`mine`) and what the hub holds now (`theirs`). What only one side
 * changed is taken from that side; where both changed, objects merge field by
 * field and lists of things with ids thing by thing, and otherwise this page's
 * edit wins (the merchant just made it). A value the page did not touch is never
 * written back over a change made meanwhile (a sold-out toggle at the till, an
 * edit in another tab).
 */
function merge3(base: Json | undefined, mine: Json | undefined, theirs: Json | undefined): Json | undefined {
  if (same(mine, base)) return theirs;
  if (same(theirs, base)) return mine;
  if (hasIds(base) && hasIds(mine) && hasIds(theirs)) return mergeById(base, mine, theirs);
  const isObj = (v: unknown): v is { [k: string]: Json } => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(base) && isObj(mine) && isObj(theirs)) {
    const out: { [k: string]: Json } = {};
    for (const k of new Set([...Object.keys(theirs), ...Object.keys(mine)])) {
      const v = merge3(base[k], mine[k], theirs[k]);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return mine;
}

function mergeById(base: { id: string }[], mine: { id: string }[], theirs: { id: string }[]): Json {
  const by = (l: { id: string }[]) => new Map(l.map((x) => [x.id, x as unknown as Json]));
  const [b, m, t] = [by(base), by(mine), by(theirs)];
  const kept = new Map<string, Json>();
  for (const id of new Set([...m.keys(), ...t.keys(), ...b.keys()])) {
    const [bv, mv, tv] = [b.get(id), m.get(id), t.get(id)];
    if (bv === undefined) {
      // New on one side (or both: this page's wins).
      const v = mv ?? tv;
      if (v !== undefined) kept.set(id, v);
    } else if (mv === undefined) {
      // Removed here: gone, unless it was changed meanwhile (then kept, changed).
      if (tv !== undefined && !same(tv, bv)) kept.set(id, tv);
    } else if (tv === undefined) {
      // Removed meanwhile: gone, unless this page changed it.
      if (!same(mv, bv)) kept.set(id, mv);
    } else {
      const v = merge3(bv, mv, tv);
      if (v !== undefined) kept.set(id, v);
    }
  }
  // Order: this page's if it reordered, else the hub's; what only the other side has goes last.
  const reordered = !same(
    base.map((x) => x.id).filter((id) => m.has(id)),
    mine.map((x) => x.id).filter((id) => b.has(id)),
  );
  const lead = reordered ? mine : theirs;
  const ids = [...lead.map((x) => x.id), ...(reordered ? theirs : mine).map((x) => x.id)];
  return [...new Set(ids)].filter((id) => kept.has(id)).map((id) => kept.get(id)!);
}

/**
 * This page's edits (`mine`, made from `base`) put onto the menu the hub holds
 * now (`theirs`), so saving never undoes what changed at the hub or the store
 * since the page loaded it.
 */
export function rebaseMenu(base: Menu, mine: Menu, theirs: Menu): Menu {
  return merge3(base as unknown as Json, mine as unknown as Json, theirs as unknown as Json) as unknown as Menu;
}
