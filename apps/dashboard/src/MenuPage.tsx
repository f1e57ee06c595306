// The menu: categories (added, renamed, put in order, removed when empty) and
// their items (added, renamed, described, moved, priced, taxed, sent to a
// kitchen station, offered choices, removed), modifier groups' fewest and most
// choices. Prices are typed as decimals and kept in minor units; new ids are
// made from names (menuEdit.ts) and never shown. "Save menu" sends the whole
// menu (PUT) and says how many changes wait; leaving the page, switching store
// or signing out with changes waiting asks first (and the browser asks before
// the tab closes). A refusal of the hub's is shown next to the field it names
// when it names one. Sold out / back on sale is its own call and takes effect at once. A picture is uploaded
// to the hub as soon as it is chosen (checked here first for kind and size, and
// again by the hub); its URL goes into the item, and "Save menu" puts it on the
// menu, from where the store's kiosk and the customer app show it.
import { formatMoney, parseAmount } from "@edge/shared";
import { type FormEvent, useEffect, useRef, useState } from "react";
import type { StoreChoice } from "./App";
import { HubError, type Item, type Menu, api, hub, signOut, write } from "./hub";
import { MenuConflicts } from "./MenuConflicts";
import { ItemEditor, type NewItem, NewItemForm, PICTURE_TYPES } from "./MenuItemEditor";
import { changeCount, changesWords, fieldProblem, nameProblem, rebaseMenu, slug } from "./menuEdit";
import { words } from "./words";
import { Problem, Said } from "./said";

/** The largest picture the hub takes (its limit: 2 MiB). */
const PICTURE_MAX_BYTES = 2 * 1024 * 1024;

/** A file size as people read it: 5 400 000 bytes -> "5.2 MB". */
function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Why a file cannot be a picture, in words; null when it can be uploaded. */
export function pictureProblem(file: { type: string; size: number }): string | null {
  if (!PICTURE_TYPES.includes(file.type)) return "Only JPEG, PNG or WebP pictures can be used. Choose another file.";
  if (file.size > PICTURE_MAX_BYTES) return `That file is ${megabytes(file.size)}; pictures can be up to 2 MB. Choose a smaller one.`;
  return null;
}

/** The hub's refusal of a picture, in words. */
function pictureWords(e: unknown, file: File): string {
  if (e instanceof HubError) {
    if (e.code === "image_too_large") return `That file is ${megabytes(file.size)}; pictures can be up to 2 MB. Choose a smaller one.`;
    if (e.code === "unsupported_image") return "That file is not a JPEG, PNG or WebP picture the hub can read. Choose another file.";
    if (e.code === "image_dimensions") return "That picture is too big: it can be up to 8192 pixels wide and tall. Choose a smaller one.";
  }
  return words(e);
}

/** Goes to another dashboard address, as the app's own links do. */
function goTo(pathname: string) {
  history.pushState(null, "", pathname);
  dispatchEvent(new PopStateEvent("popstate"));
}

/** Something the merchant asked for that would lose unsaved changes, held until they say. */
interface Pending {
  title: string;
  action: string;
  run: () => void;
}

export function MenuPage({ store }: { store: StoreChoice }) {
  /** The menu as the hub has it (what "changes" are counted against). */
  const [saved, setSaved] = useState<Menu | null>(null);
  /** The menu as edited here (prices apart, as typed). */
  const [menu, setMenu] = useState<Menu | null>(null);
  const [prices, setPrices] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** The item whose picture is being uploaded, and each item's picture problem. */
  const [uploading, setUploading] = useState<string | null>(null);
  const [pictureError, setPictureError] = useState<Record<string, string>>({});
  /** Problems by field, from the hub's refusal or this page's checks (`item:<id>:<field>`, `category:<id>:name`, `group:<id>:bounds`). */
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  /** Items whose details are open, and a category's problem (e.g. removing one with items). */
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [categoryNote, setCategoryNote] = useState<Record<string, string>>({});
  const [newCategory, setNewCategory] = useState("");
  const [newCategoryError, setNewCategoryError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [pending, setPendingState] = useState<Pending | null>(null);
  /** Where the focus was when the question opened, to go back to if the merchant stays. */
  const returnFocus = useRef<HTMLElement | null>(null);
  const setPending = (p: Pending | null) => {
    if (p) returnFocus.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setPendingState(p);
  };
  const stay = () => {
    setPendingState(null);
    returnFocus.current?.focus();
  };
  const sectionRef = useRef<HTMLElement>(null);
  const path = { params: { path: { id: store.id } } };

  function take(m: Menu) {
    setSaved(m);
    setMenu(m);
    setPrices(Object.fromEntries(m.items.map((i) => [i.id, decimal(i.price, m.currency)])));
    setFieldErrors({});
    setCategoryNote({});
  }

  async function load() {
    setError(null);
    try {
      const v = await hub(() => api.GET("/api/v1/stores/{id}/menu", path));
      take(v.menu);
      setNote(null);
    } catch (e) {
      setError(words(e));
    }
  }
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store.id]);

  /** The edited menu with the typed prices (a price that does not parse keeps the old one: saving waits for it). */
  const priced: Menu | null = menu && { ...menu, items: menu.items.map((i) => ({ ...i, price: parseAmount(prices[i.id] ?? "", menu.currency) ?? i.price })) };
  const typedPriceChanges = menu ? menu.items.filter((i) => parseAmount(prices[i.id] ?? "", menu.currency) === null && saved?.items.some((s) => s.id === i.id && decimal(s.price, menu.currency) !== prices[i.id])).length : 0;
  const count = saved && priced ? changeCount(saved, priced) + typedPriceChanges : 0;
  const countRef = useRef(0);
  countRef.current = count;

  // Unsaved changes: leaving the site asks the browser's question; leaving the page,
  // switching store or signing out asks ours (the clicks are caught before the app's own handlers).
  useEffect(() => {
    const unload = (e: BeforeUnloadEvent) => {
      if (countRef.current === 0) return;
      e.preventDefault();
      e.returnValue = "";
    };
    const click = (e: MouseEvent) => {
      if (countRef.current === 0 || !(e.target instanceof Element) || sectionRef.current?.contains(e.target)) return;
      const a = e.target.closest("a[href]");
      if (a instanceof HTMLAnchorElement) {
        const url = new URL(a.href, location.href);
        if (url.origin === location.origin && url.pathname === location.pathname) return;
        e.preventDefault();
        e.stopPropagation();
        setPending({ title: "Leave the menu without saving?", action: "Leave without saving", run: () => (url.origin === location.origin ? goTo(url.pathname) : location.assign(url.href)) });
        return;
      }
      const out = e.target.closest(".account button");
      if (out) {
        e.preventDefault();
        e.stopPropagation();
        setPending({ title: "Sign out without saving the menu?", action: "Sign out without saving", run: () => void signOut() });
      }
    };
    const change = (e: Event) => {
      const sel = e.target;
      if (countRef.current === 0 || !(sel instanceof HTMLSelectElement) || !sel.closest(".switcher")) return;
      const to = sel.value;
      sel.value = store.id;
      e.stopPropagation();
      setPending({ title: "Switch store without saving the menu?", action: "Switch without saving", run: () => goTo(`/dashboard/stores/${encodeURIComponent(to)}/menu`) });
    };
    addEventListener("beforeunload", unload);
    document.addEventListener("click", click, true);
    document.addEventListener("change", change, true);
    return () => {
      removeEventListener("beforeunload", unload);
      document.removeEventListener("click", click, true);
      document.removeEventListener("change", change, true);
    };
  }, [store.id]);

  if (error && !menu) return <Problem text={error} retry={load} />;
  if (!menu || !saved || !priced) return <p aria-live="polite">Loading the menu…</p>;
  const currency = menu.currency;
  const savedNames = new Map(saved.items.map((i) => [i.id, i.name]));
  const savedImages = new Map(saved.items.map((i) => [i.id, i.image ?? null]));

  function edit(f: (m: Menu) => Menu) {
    setMenu((m) => (m ? f(m) : m));
    setNote(null);
    setCategoryNote({});
  }
  function editItem(id: string, f: (i: Item) => Item) {
    edit((m) => ({ ...m, items: m.items.map((x) => (x.id === id ? f(x) : x)) }));
    setFieldErrors((e) => Object.fromEntries(Object.entries(e).filter(([k]) => !k.startsWith(`item:${id}:`))));
  }

  // What this page can tell before asking the hub.
  const blocking: string[] = [];
  for (const i of menu.items) {
    if (parseAmount(prices[i.id] ?? "", currency) === null) blocking.push(`The price of ${savedNames.get(i.id) ?? i.name} is not a price.`);
    if (nameProblem(i.name)) blocking.push(`An item needs a name (${savedNames.get(i.id) ?? "a new item"}).`);
  }
  for (const c of menu.categories) if (nameProblem(c.name)) blocking.push("A category needs a name.");
  for (const g of menu.modifier_groups) if (g.max < 1 || g.min > g.max || g.max > g.modifiers.length) blocking.push(`The fewest and most choices for ${g.name} do not fit its ${g.modifiers.length} choices.`);

  async function save() {
    if (!priced || blocking.length) return;
    setBusy(true);
    setError(null);
    setFieldErrors({});
    try {
      // Onto the menu as it is now: what changed meanwhile (at the till, in another tab) stays.
      const now = (await hub(() => api.GET("/api/v1/stores/{id}/menu", path))).menu;
      const body = saved ? rebaseMenu(saved, priced, now) : priced;
      const v = await write((h) => api.PUT("/api/v1/stores/{id}/menu", { ...path, params: { ...path.params, header: h }, body }));
      take(v.menu);
      setNote(`Menu saved (${changesWords(count)}). The tills get it the next time they sync.`);
    } catch (e) {
      const field = e instanceof HubError && e.code === "invalid_menu" ? fieldProblem(e.message, priced) : null;
      if (field) {
        setFieldErrors({ [field.key]: field.text });
        if (field.item) setOpen((o) => new Set(o).add(field.item!));
        setError("The menu was not saved: one field needs changing. It is marked below.");
      } else {
        setError(e instanceof HubError && e.code === "invalid_menu" ? `The menu was not saved: ${words(e)}` : words(e));
      }
    } finally {
      setBusy(false);
    }
  }

  function setImage(item: Item, image: string | null) {
    editItem(item.id, (x) => ({ ...x, image }));
  }

  async function uploadPicture(item: Item, file: File) {
    const problem = pictureProblem(file);
    setPictureError((p) => ({ ...p, [item.id]: problem ?? "" }));
    if (problem) return;
    setUploading(item.id);
    try {
      const stored = await write((h) =>
        api.POST("/api/v1/stores/{id}/images", {
          params: { path: { id: store.id }, header: h },
          // The picture's own bytes, as the hub takes them (not JSON).
          body: file as unknown as string,
          bodySerializer: (b: unknown) => b as BodyInit,
          headers: { "Content-Type": file.type },
        }),
      );
      setImage(item, stored.url);
      setNote(`The picture of ${item.name} is uploaded. Save menu to show it on the menu.`);
    } catch (e) {
      setPictureError((p) => ({ ...p, [item.id]: pictureWords(e, file) }));
    } finally {
      setUploading(null);
    }
  }

  async function soldOut(item: Item, sold: boolean) {
    setError(null);
    try {
      await write((h) =>
        api.PUT("/api/v1/stores/{id}/menu/items/{item_id}/sold-out", {
          params: { path: { id: store.id, item_id: item.id }, header: h },
          body: { sold_out: sold },
        }),
      );
      // Takes effect at once: the hub's menu has it too, so it is no change waiting.
      const mark = (m: Menu | null) => (m ? { ...m, items: m.items.map((i) => (i.id === item.id ? { ...i, sold_out: sold } : i)) } : m);
      setMenu(mark);
      setSaved(mark);
      setNote(sold ? `${item.name} is marked sold out.` : `${item.name} is back on sale.`);
    } catch (e) {
      setError(words(e));
    }
  }

  function addItem(n: NewItem) {
    if (!menu) return;
    const taken = new Set([...menu.items.map((i) => i.id), ...menu.items.map((i) => i.sku), ...(saved?.items.map((i) => i.id) ?? [])]);
    const id = slug(n.name, taken, "item");
    const item: Item = { id, sku: id, name: n.name, description: n.description, category: n.category, price: n.price, tax_class: n.tax_class, station: n.station, sold_out: false, modifier_groups: n.modifier_groups };
    edit((m) => ({ ...m, items: [...m.items, item] }));
    setPrices((p) => ({ ...p, [id]: decimal(n.price, currency) }));
    setAdding(false);
    const cat = menu.categories.find((c) => c.id === n.category)?.name ?? "its category";
    setNote(`${n.name} is added to ${cat}. Save menu to put it on the menu.`);
  }

  function removeItem(item: Item) {
    edit((m) => ({ ...m, items: m.items.filter((x) => x.id !== item.id) }));
    setNote(`${savedNames.get(item.id) ?? item.name} is removed. Save menu to take it off the menu.`);
  }

  function addCategory(e: FormEvent) {
    e.preventDefault();
    if (!menu) return;
    const name = newCategory.trim();
    const problem = nameProblem(name) ?? (menu.categories.some((c) => c.name.trim().toLowerCase() === name.toLowerCase()) ? `There is already a category called ${name}.` : null);
    setNewCategoryError(problem);
    if (problem) return;
    const taken = new Set([...menu.categories.map((c) => c.id), ...(saved?.categories.map((c) => c.id) ?? [])]);
    edit((m) => ({ ...m, categories: [...m.categories, { id: slug(name, taken, "category"), name }] }));
    setNewCategory("");
    setNote(`The category ${name} is added. Save menu to put it on the menu.`);
  }

  function moveCategory(id: string, by: -1 | 1) {
    edit((m) => {
      const list = [...m.categories];
      const at = list.findIndex((c) => c.id === id);
      const to = at + by;
      if (at < 0 || to < 0 || to >= list.length) return m;
      [list[at], list[to]] = [list[to], list[at]];
      return { ...m, categories: list };
    });
  }

  function removeCategory(id: string, name: string) {
    if (!menu) return;
    const inside = menu.items.filter((i) => i.category === id).length;
    if (inside > 0) {
      setCategoryNote((n) => ({
        ...n,
        [id]: `${name || "This category"} still has ${inside} item${inside === 1 ? "" : "s"}. Move ${inside === 1 ? "it" : "them"} to another category or remove ${inside === 1 ? "it" : "them"} first, then remove the category.`,
      }));
      return;
    }
    edit((m) => ({ ...m, categories: m.categories.filter((c) => c.id !== id) }));
    setNote(`The category ${name} is removed. Save menu to take it off the menu.`);
  }

  const savedCategories = new Map(saved.categories.map((c) => [c.id, c.name]));
  const orphans = menu.items.filter((i) => !menu.categories.some((c) => c.id === i.category));
  const sections = [
    ...menu.categories.map((c) => ({ id: c.id, name: c.name || "A category without a name", items: menu.items.filter((i) => i.category === c.id) })),
    ...(orphans.length ? [{ id: "", name: "Not in a category", items: orphans }] : []),
  ];

  function itemRow(i: Item) {
    const label = savedNames.get(i.id) ?? (i.name || "the new item");
    const errs = Object.fromEntries(
      Object.entries(fieldErrors)
        .filter(([k]) => k.startsWith(`item:${i.id}:`))
        .map(([k, v]) => [k.slice(`item:${i.id}:`.length), v]),
    );
    return (
      <ItemEditor
        key={i.id}
        item={i}
        menu={menu!}
        label={label}
        isNew={!savedNames.has(i.id)}
        price={prices[i.id] ?? ""}
        onPrice={(v) => {
          setPrices((p) => ({ ...p, [i.id]: v }));
          setFieldErrors((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== `item:${i.id}:price`)));
          setNote(null);
        }}
        onEdit={(f) => editItem(i.id, f)}
        open={open.has(i.id)}
        onOpen={(o) =>
          setOpen((s) => {
            const n = new Set(s);
            if (o) n.add(i.id);
            else n.delete(i.id);
            return n;
          })
        }
        onRemove={() => removeItem(i)}
        onSoldOut={(sold) => void soldOut(i, sold)}
        errors={errs}
        picture={
          <div className="menu-item-picture">
            {i.image ? <img src={i.image} alt={`Picture of ${label}`} width={72} height={72} /> : <span className="muted small">No picture</span>}
            <label className="field-inline">
              <span>{i.image ? `Choose another picture for ${label}` : `Choose a picture for ${label}`}</span>
              <input
                type="file"
                accept={PICTURE_TYPES.join(",")}
                disabled={uploading !== null}
                aria-describedby={pictureError[i.id] ? `picture-error-${i.id}` : undefined}
                onChange={(e) => {
                  const file = e.target.files?.[0];
                  e.target.value = "";
                  if (file) void uploadPicture(i, file);
                }}
              />
            </label>
            {i.image && (
              <button type="button" onClick={() => setImage(i, null)} disabled={uploading === i.id}>
                Remove the picture of {label}
              </button>
            )}
            {(i.image ?? null) !== (savedImages.get(i.id) ?? null) && uploading !== i.id && (
              <span className="muted small">{i.image ? "New picture: on the menu once you save it." : "The picture goes once you save the menu."}</span>
            )}
            {uploading === i.id && (
              <span className="muted small" role="status">
                Uploading the picture…
              </span>
            )}
            {pictureError[i.id] && (
              <span id={`picture-error-${i.id}`} className="problem small" role="alert">
                {pictureError[i.id]}
              </span>
            )}
          </div>
        }
      />
    );
  }

  return (
    <section ref={sectionRef}>
      <div className="page-head">
        <h1>Menu</h1>
        <div className="row wrap">
          <button
            type="button"
            onClick={() => (count > 0 ? setPending({ title: "Reload the menu and lose your changes?", action: "Reload and lose them", run: () => void load() }) : void load())}
            disabled={busy}
          >
            Reload
          </button>
          <button type="button" className="primary" onClick={() => void save()} disabled={busy || count === 0 || blocking.length > 0}>
            {busy ? "Saving…" : count > 0 ? `Save menu (${changesWords(count)})` : "Save menu"}
          </button>
        </div>
      </div>
      {count > 0 && (
        <p className="muted" data-testid="unsaved">
          {count === 1 ? "1 change is" : `${count} changes are`} not saved yet.
          {blocking.length > 0 && ` Before saving: ${blocking[0]}`}
        </p>
      )}
      <Said error={error} note={note} />
      <MenuConflicts store={store} onResolved={() => void load()} />
      <div className="card">
        <h2>Categories</h2>
        <p className="muted small">The order here is the order on the tills, the kiosk and the online menu.</p>
        <ol className="category-list">
          {menu.categories.map((c, at) => {
            const label = savedCategories.get(c.id) ?? (c.name || "the new category");
            const err = fieldErrors[`category:${c.id}:name`] ?? (nameProblem(c.name) ? "Type a name." : null);
            return (
              <li key={c.id} className="category-row" data-category={c.id}>
                <label className="field-inline">
                  <span>Name of the category {label}</span>
                  <input
                    value={c.name}
                    maxLength={120}
                    aria-invalid={err ? true : undefined}
                    aria-describedby={err ? `err-category-${c.id}` : undefined}
                    onChange={(e) => {
                      const name = e.target.value;
                      edit((m) => ({ ...m, categories: m.categories.map((x) => (x.id === c.id ? { ...x, name } : x)) }));
                      setFieldErrors((f) => Object.fromEntries(Object.entries(f).filter(([k]) => k !== `category:${c.id}:name`)));
                    }}
                  />
                  {err && (
                    <span id={`err-category-${c.id}`} className="problem small">
                      {err}
                    </span>
                  )}
                </label>
                <div className="row wrap category-actions">
                  <button type="button" onClick={() => moveCategory(c.id, -1)} disabled={at === 0} aria-label={`Move ${label} up`}>
                    Up
                  </button>
                  <button type="button" onClick={() => moveCategory(c.id, 1)} disabled={at === menu.categories.length - 1} aria-label={`Move ${label} down`}>
                    Down
                  </button>
                  <button type="button" className="danger" onClick={() => removeCategory(c.id, label)}>
                    Remove {label}
                  </button>
                </div>
                {categoryNote[c.id] && (
                  <p className="problem small wide" role="alert">
                    {categoryNote[c.id]}
                  </p>
                )}
              </li>
            );
          })}
        </ol>
        <form className="row wrap add-category" onSubmit={addCategory} noValidate>
          <label className="field-inline">
            <span>Name of a new category</span>
            <input
              value={newCategory}
              maxLength={120}
              aria-invalid={newCategoryError ? true : undefined}
              aria-describedby={newCategoryError ? "err-new-category-name" : undefined}
              onChange={(e) => {
                setNewCategory(e.target.value);
                setNewCategoryError(null);
              }}
            />
            {newCategoryError && (
              <span id="err-new-category-name" className="problem small">
                {newCategoryError}
              </span>
            )}
          </label>
          <button type="submit">Add the category</button>
        </form>
      </div>
      {adding ? (
        <NewItemForm menu={menu} onAdd={addItem} onCancel={() => setAdding(false)} />
      ) : (
        <p>
          <button type="button" onClick={() => setAdding(true)}>
            Add an item
          </button>
        </p>
      )}
      {sections.map((c) => (
        <div key={c.id || "none"} className="card">
          <h2>{c.name}</h2>
          {c.items.length === 0 && <p className="muted">No items in this category.</p>}
          <ul className="menu-items">{c.items.map(itemRow)}</ul>
        </div>
      ))}
      {menu.modifier_groups.length > 0 && (
        <div className="card">
          <h2>Choices on items</h2>
          <ul className="menu-items">
            {menu.modifier_groups.map((g) => {
              const err = fieldErrors[`group:${g.id}:bounds`] ?? (g.max < 1 || g.min > g.max || g.max > g.modifiers.length ? `The most must be from 1 to ${g.modifiers.length} (the number of choices), and the fewest no more than the most.` : null);
              const described = err ? `err-group-${g.id}` : undefined;
              return (
                <li key={g.id} className="menu-item group-row">
                  <div className="menu-item-name">
                    <strong>{g.name}</strong>
                    <span className="muted small">{g.modifiers.map((m) => `${m.name}${m.price_delta ? ` +${formatMoney(m.price_delta, currency)}` : ""}`).join(", ")}</span>
                  </div>
                  <label className="field-inline">
                    <span>Fewest choices for {g.name}</span>
                    <input type="number" min={0} value={g.min} aria-invalid={err ? true : undefined} aria-describedby={described} onChange={(e) => edit((m) => ({ ...m, modifier_groups: m.modifier_groups.map((x) => (x.id === g.id ? { ...x, min: Math.max(0, Number(e.target.value) | 0) } : x)) }))} />
                  </label>
                  <label className="field-inline">
                    <span>Most choices for {g.name}</span>
                    <input type="number" min={0} value={g.max} aria-invalid={err ? true : undefined} aria-describedby={described} onChange={(e) => edit((m) => ({ ...m, modifier_groups: m.modifier_groups.map((x) => (x.id === g.id ? { ...x, max: Math.max(0, Number(e.target.value) | 0) } : x)) }))} />
                  </label>
                  {err && (
                    <span id={described} className="problem small wide">
                      {err}
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
        </div>
      )}
      {pending && (
        <div className="leave-backdrop">
          <div
            className="leave-dialog card"
            role="alertdialog"
            aria-modal="true"
            aria-labelledby="leave-title"
            aria-describedby="leave-text"
            onKeyDown={(e) => {
              if (e.key === "Escape") stay();
            }}
          >
            <h2 id="leave-title">{pending.title}</h2>
            <p id="leave-text">
              {count === 1 ? "1 change to the menu is" : `${count} changes to the menu are`} not saved. They are lost if you go on.
            </p>
            <div className="row wrap">
              <button type="button" className="primary" autoFocus onClick={stay}>
                Stay and keep editing
              </button>
              <button
                type="button"
                className="danger"
                onClick={() => {
                  const run = pending.run;
                  setPending(null);
                  countRef.current = 0;
                  run();
                }}
              >
                {pending.action}
              </button>
            </div>
          </div>
        </div>
      )}
    </section>
  );
}

/** Minor units as the decimal a person types: 1250 -> "12.50". */
function decimal(minor: number, currency: string): string {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return (minor / 10 ** digits).toFixed(digits);
}

