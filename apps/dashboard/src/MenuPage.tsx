// The menu: categories and their items with prices (typed as decimals, kept in
// minor units), the kitchen station and picture of each item, modifier groups'
// fewest and most choices. "Save menu" sends the whole menu (PUT); sold out /
// back on sale is its own call and takes effect at once. A picture is uploaded
// to the hub as soon as it is chosen (checked here first for kind and size, and
// again by the hub); its URL goes into the item, and "Save menu" puts it on the
// menu, from where the store's kiosk and the customer app show it.
import { formatMoney, parseAmount } from "@edge/shared";
import { useEffect, useState } from "react";
import type { StoreChoice } from "./App";
import { HubError, type Item, type Menu, api, hub, write } from "./hub";
import { MenuConflicts } from "./MenuConflicts";
import { words } from "./words";

/** The kinds of picture the hub takes, and the largest (its limits: 2 MiB). */
const PICTURE_TYPES = ["image/jpeg", "image/png", "image/webp"];
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

export function MenuPage({ store }: { store: StoreChoice }) {
  const [menu, setMenu] = useState<Menu | null>(null);
  const [prices, setPrices] = useState<Record<string, string>>({});
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** The item whose picture is being uploaded, and each item's picture problem. */
  const [uploading, setUploading] = useState<string | null>(null);
  const [pictureError, setPictureError] = useState<Record<string, string>>({});
  /** Each item's picture as the hub's menu has it (a changed one shows until saved). */
  const [savedImages, setSavedImages] = useState<Record<string, string | null>>({});
  const path = { params: { path: { id: store.id } } };

  async function load() {
    setError(null);
    try {
      const v = await hub(() => api.GET("/api/v1/stores/{id}/menu", path));
      setMenu(v.menu);
      setPrices(Object.fromEntries(v.menu.items.map((i) => [i.id, decimal(i.price, v.menu.currency)])));
      setSavedImages(Object.fromEntries(v.menu.items.map((i) => [i.id, i.image ?? null])));
      setDirty(false);
    } catch (e) {
      setError(words(e));
    }
  }
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store.id]);

  if (error && !menu) return <Problem text={error} retry={load} />;
  if (!menu) return <p aria-live="polite">Loading the menu…</p>;
  const currency = menu.currency;

  function edit(f: (m: Menu) => Menu) {
    setMenu((m) => (m ? f(m) : m));
    setDirty(true);
    setNote(null);
  }
  const badPrice = menu.items.filter((i) => parseAmount(prices[i.id] ?? "", currency) === null);

  async function save() {
    if (!menu || badPrice.length) return;
    const next: Menu = { ...menu, items: menu.items.map((i) => ({ ...i, price: parseAmount(prices[i.id], currency) ?? i.price })) };
    setBusy(true);
    setError(null);
    try {
      const v = await write((h) => api.PUT("/api/v1/stores/{id}/menu", { ...path, params: { ...path.params, header: h }, body: next }));
      setMenu(v.menu);
      setPrices(Object.fromEntries(v.menu.items.map((i) => [i.id, decimal(i.price, v.menu.currency)])));
      setSavedImages(Object.fromEntries(v.menu.items.map((i) => [i.id, i.image ?? null])));
      setDirty(false);
      setNote("Menu saved. The tills get it the next time they sync.");
    } catch (e) {
      setError(words(e));
    } finally {
      setBusy(false);
    }
  }

  function setImage(item: Item, image: string | null) {
    edit((m) => ({ ...m, items: m.items.map((x) => (x.id === item.id ? { ...x, image } : x)) }));
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
      setMenu((m) => (m ? { ...m, items: m.items.map((i) => (i.id === item.id ? { ...i, sold_out: sold } : i)) } : m));
      setNote(sold ? `${item.name} is marked sold out.` : `${item.name} is back on sale.`);
    } catch (e) {
      setError(words(e));
    }
  }

  return (
    <section>
      <div className="page-head">
        <h1>Menu</h1>
        <div className="row">
          <button type="button" onClick={() => void load()} disabled={busy}>
            Reload
          </button>
          <button type="button" className="primary" onClick={() => void save()} disabled={busy || !dirty || badPrice.length > 0}>
            {busy ? "Saving…" : "Save menu"}
          </button>
        </div>
      </div>
      {dirty && <p className="muted">You have changes that are not saved yet.</p>}
      {note && (
        <p className="note" role="status">
          {note}
        </p>
      )}
      {error && (
        <p className="problem" role="alert">
          {error}
        </p>
      )}
      <MenuConflicts store={store} onResolved={() => void load()} />
      {menu.categories.map((c) => {
        const items = menu.items.filter((i) => i.category === c.id);
        return (
          <div key={c.id} className="card">
            <h2>{c.name}</h2>
            {items.length === 0 && <p className="muted">No items in this category.</p>}
            <ul className="menu-items">
              {items.map((i) => {
                const bad = parseAmount(prices[i.id] ?? "", currency) === null;
                return (
                  <li key={i.id} className={i.sold_out ? "menu-item sold-out" : "menu-item"} data-item={i.id}>
                    <div className="menu-item-name">
                      <strong>{i.name}</strong>
                      {i.sold_out && <span className="tag tag-bad">Sold out</span>}
                      {(i.modifier_groups ?? []).length > 0 && (
                        <span className="muted small">
                          Choices: {(i.modifier_groups ?? []).map((g) => menu.modifier_groups.find((x) => x.id === g)?.name ?? g).join(", ")}
                        </span>
                      )}
                    </div>
                    <label className="field-inline">
                      <span>Price of {i.name}</span>
                      <input
                        inputMode="decimal"
                        value={prices[i.id] ?? ""}
                        aria-invalid={bad}
                        onChange={(e) => {
                          const v = e.target.value;
                          setPrices((p) => ({ ...p, [i.id]: v }));
                          setDirty(true);
                          setNote(null);
                        }}
                      />
                      {bad ? <span className="problem small">Type a price like 12.50</span> : <span className="muted small">{formatMoney(parseAmount(prices[i.id], currency) ?? i.price, currency)}</span>}
                    </label>
                    <label className="field-inline">
                      <span>Kitchen station of {i.name}</span>
                      <select value={i.station} onChange={(e) => edit((m) => ({ ...m, items: m.items.map((x) => (x.id === i.id ? { ...x, station: e.target.value } : x)) }))}>
                        {menu.stations.map((s) => (
                          <option key={s.id} value={s.id}>
                            {s.name}
                          </option>
                        ))}
                      </select>
                    </label>
                    <button type="button" className={i.sold_out ? "primary" : ""} onClick={() => void soldOut(i, !i.sold_out)}>
                      {i.sold_out ? `Back on sale: ${i.name}` : `Mark ${i.name} sold out`}
                    </button>
                    <div className="menu-item-picture" style={{ gridColumn: "1 / -1", display: "flex", flexWrap: "wrap", gap: "0.5rem 1rem", alignItems: "center" }}>
                      {i.image ? (
                        <img src={i.image} alt={`Picture of ${i.name}`} width={72} height={72} style={{ objectFit: "cover", borderRadius: 6, background: "var(--bg)" }} />
                      ) : (
                        <span className="muted small">No picture</span>
                      )}
                      <label className="field-inline">
                        <span>{i.image ? `Choose another picture for ${i.name}` : `Choose a picture for ${i.name}`}</span>
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
                          Remove the picture of {i.name}
                        </button>
                      )}
                      {(i.image ?? null) !== (savedImages[i.id] ?? null) && uploading !== i.id && (
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
                  </li>
                );
              })}
            </ul>
          </div>
        );
      })}
      {menu.modifier_groups.length > 0 && (
        <div className="card">
          <h2>Choices on items</h2>
          <ul className="menu-items">
            {menu.modifier_groups.map((g) => (
              <li key={g.id} className="menu-item">
                <div className="menu-item-name">
                  <strong>{g.name}</strong>
                  <span className="muted small">{g.modifiers.map((m) => `${m.name}${m.price_delta ? ` +${formatMoney(m.price_delta, currency)}` : ""}`).join(", ")}</span>
                </div>
                <label className="field-inline">
                  <span>Fewest choices for {g.name}</span>
                  <input type="number" min={0} value={g.min} onChange={(e) => edit((m) => ({ ...m, modifier_groups: m.modifier_groups.map((x) => (x.id === g.id ? { ...x, min: Math.max(0, Number(e.target.value) | 0) } : x)) }))} />
                </label>
                <label className="field-inline">
                  <span>Most choices for {g.name}</span>
                  <input type="number" min={0} value={g.max} onChange={(e) => edit((m) => ({ ...m, modifier_groups: m.modifier_groups.map((x) => (x.id === g.id ? { ...x, max: Math.max(0, Number(e.target.value) | 0) } : x)) }))} />
                </label>
              </li>
            ))}
          </ul>
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

export function Problem({ text, retry }: { text: string; retry: () => void }) {
  return (
    <div className="problem" role="alert">
      <p>{text}</p>
      <button type="button" onClick={retry}>
        Try again
      </button>
    </div>
  );
}
