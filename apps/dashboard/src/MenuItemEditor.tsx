// One item of the Menu page, and the form that adds one. A row shows what is
// changed most (price, tax class, kitchen station, sold out, picture); "More
// about <item>" opens its name, description, category, choices offered and
// removal (asked in words first). Labels name the item as the hub has it, so
// they stay put while its name is retyped. Every field shows the problem the
// page or the hub found with it next to it.
import { formatMoney, parseAmount } from "@edge/shared";
import { type FormEvent, type ReactNode, useState } from "react";
import type { Item, Menu } from "./hub";
import { nameProblem, taxWords } from "./menuEdit";

/** The kinds of picture the hub takes, and the largest (its limits: 2 MiB). */
export const PICTURE_TYPES = ["image/jpeg", "image/png", "image/webp"];

/** A problem shown next to a field, tied to it with aria-describedby. */
function FieldError({ id, text }: { id: string; text?: string | null }) {
  if (!text) return null;
  return (
    <span id={id} className="problem small">
      {text}
    </span>
  );
}

/** Tick boxes for the choice groups offered on an item. */
function ChoicesField({ menu, value, onChange, label, error, errorId }: { menu: Menu; value: string[]; onChange: (v: string[]) => void; label: string; error?: string; errorId: string }) {
  if (menu.modifier_groups.length === 0) return null;
  return (
    <fieldset className="choices" aria-describedby={error ? errorId : undefined}>
      <legend>{label}</legend>
      <div className="choice-list">
        {menu.modifier_groups.map((g) => (
          <label key={g.id} className="check">
            <input type="checkbox" checked={value.includes(g.id)} onChange={(e) => onChange(e.target.checked ? menu.modifier_groups.map((x) => x.id).filter((id) => id === g.id || value.includes(id)) : value.filter((id) => id !== g.id))} />
            {g.name}
          </label>
        ))}
      </div>
      <FieldError id={errorId} text={error} />
    </fieldset>
  );
}

export interface ItemEditorProps {
  item: Item;
  menu: Menu;
  /** The item's name as the hub has it (or as typed, for a new item): used in labels. */
  label: string;
  isNew: boolean;
  price: string;
  onPrice: (v: string) => void;
  onEdit: (f: (i: Item) => Item) => void;
  open: boolean;
  onOpen: (open: boolean) => void;
  onRemove: () => void;
  onSoldOut: (sold: boolean) => void;
  /** Problems by field (`name`, `price`, `category`, `tax_class`, `station`, `modifier_groups`). */
  errors: Record<string, string>;
  /** The picture control (kept in the page, which uploads). */
  picture: ReactNode;
}

export function ItemEditor(p: ItemEditorProps) {
  const { item: i, menu, label } = p;
  const [asking, setAsking] = useState(false);
  const currency = menu.currency;
  const amount = parseAmount(p.price, currency);
  const priceError = p.errors.price ?? (amount === null ? "Type a price like 12.50" : null);
  const nameError = p.errors.name ?? nameProblem(i.name);
  const eid = (f: string) => `err-item-${i.id}-${f}`;
  const detailsId = `item-details-${i.id}`;
  return (
    <li className={i.sold_out ? "menu-item sold-out" : "menu-item"} data-item={i.id}>
      <div className="menu-item-name">
        <strong>{i.name || label}</strong>
        {p.isNew && <span className="tag tag-warn">New, not saved yet</span>}
        {i.sold_out && <span className="tag tag-bad">Sold out</span>}
        {(i.modifier_groups ?? []).length > 0 && (
          <span className="muted small">Choices: {(i.modifier_groups ?? []).map((g) => menu.modifier_groups.find((x) => x.id === g)?.name ?? "a choice no longer on the menu").join(", ")}</span>
        )}
      </div>
      <label className="field-inline">
        <span>Price of {label}</span>
        <input inputMode="decimal" value={p.price} aria-invalid={priceError ? true : undefined} aria-describedby={priceError ? eid("price") : undefined} onChange={(e) => p.onPrice(e.target.value)} />
        {priceError ? <FieldError id={eid("price")} text={priceError} /> : <span className="muted small">{formatMoney(amount ?? i.price, currency)}</span>}
      </label>
      <label className="field-inline item-tax">
        <span>Tax class of {label}</span>
        <select value={i.tax_class} aria-invalid={p.errors.tax_class ? true : undefined} aria-describedby={p.errors.tax_class ? eid("tax_class") : undefined} onChange={(e) => p.onEdit((x) => ({ ...x, tax_class: e.target.value }))}>
          {!menu.tax_classes.some((t) => t.id === i.tax_class) && <option value={i.tax_class}>Choose a tax class</option>}
          {menu.tax_classes.map((t) => (
            <option key={t.id} value={t.id}>
              {taxWords(t)}
            </option>
          ))}
        </select>
        <FieldError id={eid("tax_class")} text={p.errors.tax_class} />
      </label>
      <label className="field-inline">
        <span>Kitchen station of {label}</span>
        <select value={i.station} aria-invalid={p.errors.station ? true : undefined} aria-describedby={p.errors.station ? eid("station") : undefined} onChange={(e) => p.onEdit((x) => ({ ...x, station: e.target.value }))}>
          {!menu.stations.some((s) => s.id === i.station) && <option value={i.station}>Choose a station</option>}
          {menu.stations.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
        <FieldError id={eid("station")} text={p.errors.station} />
      </label>
      <div className="menu-item-actions">
        {!p.isNew && (
          <button type="button" className={i.sold_out ? "primary" : ""} onClick={() => p.onSoldOut(!i.sold_out)}>
            {i.sold_out ? `Back on sale: ${label}` : `Mark ${label} sold out`}
          </button>
        )}
        <button type="button" aria-expanded={p.open} aria-controls={detailsId} onClick={() => p.onOpen(!p.open)}>
          {p.open ? `Less about ${label}` : `More about ${label}`}
        </button>
      </div>
      {p.open && (
        <div id={detailsId} className="item-details">
          <label className="field-inline">
            <span>Name of {label}</span>
            <input value={i.name} maxLength={120} aria-invalid={nameError ? true : undefined} aria-describedby={nameError ? eid("name") : undefined} onChange={(e) => p.onEdit((x) => ({ ...x, name: e.target.value }))} />
            <FieldError id={eid("name")} text={nameError} />
          </label>
          <label className="field-inline">
            <span>Category of {label}</span>
            <select value={i.category} aria-invalid={p.errors.category ? true : undefined} aria-describedby={p.errors.category ? eid("category") : undefined} onChange={(e) => p.onEdit((x) => ({ ...x, category: e.target.value }))}>
              {!menu.categories.some((c) => c.id === i.category) && <option value={i.category}>Choose a category</option>}
              {menu.categories.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
            <FieldError id={eid("category")} text={p.errors.category} />
          </label>
          <label className="field-inline wide">
            <span>Description of {label}</span>
            <textarea rows={2} value={i.description ?? ""} onChange={(e) => p.onEdit((x) => ({ ...x, description: e.target.value }))} />
          </label>
          <div className="wide">
            <ChoicesField menu={menu} label={`Choices offered on ${label}`} value={i.modifier_groups ?? []} onChange={(v) => p.onEdit((x) => ({ ...x, modifier_groups: v }))} error={p.errors.modifier_groups} errorId={eid("modifier_groups")} />
          </div>
          <div className="wide remove-row">
            {asking ? (
              <div className="remove-confirm" role="group" aria-label={`Remove ${label}?`}>
                <p>
                  Remove {label} from the menu? When you save, it goes from the tills, the kiosk and the online menu. Orders already placed keep it.
                </p>
                <div className="row wrap">
                  <button type="button" className="danger" onClick={p.onRemove}>
                    Yes, remove {label}
                  </button>
                  <button type="button" onClick={() => setAsking(false)}>
                    Keep {label}
                  </button>
                </div>
              </div>
            ) : (
              <button type="button" className="danger" onClick={() => setAsking(true)}>
                Remove {label}
              </button>
            )}
          </div>
        </div>
      )}
      {p.picture}
    </li>
  );
}

/** What the add-an-item form hands the page: the item without its id yet, and its price as typed. */
export interface NewItem {
  name: string;
  description: string;
  category: string;
  price: number;
  tax_class: string;
  station: string;
  modifier_groups: string[];
}

export function NewItemForm({ menu, onAdd, onCancel }: { menu: Menu; onAdd: (i: NewItem) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [category, setCategory] = useState(menu.categories[0]?.id ?? "");
  const [price, setPrice] = useState("");
  const [tax, setTax] = useState(menu.tax_classes[0]?.id ?? "");
  const [station, setStation] = useState(menu.stations[0]?.id ?? "");
  const [groups, setGroups] = useState<string[]>([]);
  const [tried, setTried] = useState(false);
  const amount = parseAmount(price, menu.currency);
  const problems: Record<string, string | null> = {
    name: nameProblem(name),
    price: price.trim() === "" ? "Type the price, like 12.50." : amount === null ? "Type a price like 12.50" : null,
    category: category ? null : "Add a category first, then put the item in it.",
  };
  const show = (f: string) => (tried ? problems[f] : null);
  function submit(e: FormEvent) {
    e.preventDefault();
    setTried(true);
    if (Object.values(problems).some(Boolean) || amount === null) return;
    onAdd({ name: name.trim(), description: description.trim(), category, price: amount, tax_class: tax, station, modifier_groups: groups });
  }
  const field = (f: string) => ({ "aria-invalid": show(f) ? true : undefined, "aria-describedby": show(f) ? `err-new-${f}` : undefined });
  return (
    <form className="card new-item" onSubmit={submit} aria-labelledby="new-item-title" noValidate>
      <h2 id="new-item-title">Add an item</h2>
      <div className="new-item-grid">
        <label>
          Name of the new item
          <input value={name} maxLength={120} onChange={(e) => setName(e.target.value)} {...field("name")} />
          <FieldError id="err-new-name" text={show("name")} />
        </label>
        <label>
          Category of the new item
          <select value={category} onChange={(e) => setCategory(e.target.value)} {...field("category")}>
            {menu.categories.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
          <FieldError id="err-new-category" text={show("category")} />
        </label>
        <label>
          Price of the new item
          <input inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} {...field("price")} />
          <FieldError id="err-new-price" text={show("price")} />
        </label>
        <label>
          Tax class of the new item
          <select value={tax} onChange={(e) => setTax(e.target.value)}>
            {menu.tax_classes.map((t) => (
              <option key={t.id} value={t.id}>
                {taxWords(t)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Kitchen station of the new item
          <select value={station} onChange={(e) => setStation(e.target.value)}>
            {menu.stations.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label className="wide">
          Description of the new item
          <textarea rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <div className="wide">
          <ChoicesField menu={menu} label="Choices offered on the new item" value={groups} onChange={setGroups} errorId="err-new-groups" />
        </div>
      </div>
      <div className="row wrap">
        <button type="submit" className="primary">
          Add the item
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
