// The menu side of the till: category tabs, a search across every category,
// and big item buttons (name and price; sold-out items greyed and refused).
import { useMemo, useState } from "react";
import { type Item, type Menu, formatMoney } from "@edge/shared";

/** `stale`: why the latest menu could not be loaded (the one shown is still usable). */
export function MenuPanel({ menu, stale, onPick }: { menu: Menu; stale: string | null; onPick: (item: Item) => void }) {
  const [category, setCategory] = useState(menu.categories[0]?.id ?? "");
  const [query, setQuery] = useState("");
  const q = query.trim().toLowerCase();
  const items = useMemo(
    () => (q ? menu.items.filter((i) => i.name.toLowerCase().includes(q)) : menu.items.filter((i) => i.category === category)),
    [menu, category, q],
  );
  const categoryName = (id: string) => menu.categories.find((c) => c.id === id)?.name ?? id;

  return (
    <section className="menu-panel" aria-label="Menu">
      <div className="menu-bar">
        <div className="search">
          <input
            data-testid="menu-search"
            type="search"
            placeholder="Search the menu…"
            aria-label="Search the menu"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          {query && (
            <button type="button" className="search-clear" aria-label="Clear search" onClick={() => setQuery("")}>
              ✕
            </button>
          )}
        </div>
      </div>
      {stale && <p className="menu-stale">Menu may be out of date — {stale}</p>}
      <nav className="category-tabs" aria-label="Categories">
        {menu.categories.map((c) => (
          <button
            key={c.id}
            type="button"
            data-testid={`category-${c.id}`}
            className={!q && c.id === category ? "tab on" : "tab"}
            aria-pressed={!q && c.id === category}
            onClick={() => {
              setCategory(c.id);
              setQuery("");
            }}
          >
            {c.name}
          </button>
        ))}
      </nav>
      {q && (
        <p className="results-note">
          {items.length === 0 ? `Nothing on the menu matches “${query.trim()}”.` : `${items.length} matching “${query.trim()}”`}
        </p>
      )}
      <div className="item-grid">
        {items.map((item) => (
          <button
            key={item.id}
            type="button"
            data-testid={`item-${item.id}`}
            className={item.sold_out ? "item sold-out" : "item"}
            disabled={item.sold_out}
            onClick={() => onPick(item)}
          >
            <span className="item-name">{item.name}</span>
            {q && <span className="item-cat">{categoryName(item.category)}</span>}
            <span className="item-foot">
              <span className="item-price">{formatMoney(item.price, menu.currency)}</span>
              {item.sold_out ? (
                <span className="sold-out-tag">Sold out</span>
              ) : (
                (item.modifier_groups?.length ?? 0) > 0 && <span className="item-opts">options</span>
              )}
            </span>
          </button>
        ))}
      </div>
    </section>
  );
}
