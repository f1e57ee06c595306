// Shared, touch-first building blocks for the store apps.
import { type KeyboardEvent as ReactKeyboardEvent, type ReactNode, useEffect, useMemo, useRef, useState } from "react";
import { type Api, type Item, type LineRequest, type Menu, type MenuView, type StaffView, call, describe } from "./api";
import type { LinkStatus } from "./events";
import { formatMoney } from "./money";

/** A red bar with the error in words, dismissible. Every failed call ends up here or in a dialog. */
export function ErrorBanner({ error, onDismiss }: { error: string | null; onDismiss: () => void }) {
  if (!error) return null;
  return (
    <div className="error-banner" role="alert">
      <span>{error}</span>
      <button type="button" onClick={onDismiss} aria-label="Dismiss">
        ✕
      </button>
    </div>
  );
}

/** The link to the store server, in words and colour. */
export function LinkBadge({ status, label = "Store server" }: { status: LinkStatus; label?: string }) {
  const text = { live: "connected", connecting: "connecting…", offline: "offline — reconnecting" }[status];
  return (
    <span className={`badge badge-${status}`} data-testid="link-status" data-status={status}>
      {label}: {text}
    </span>
  );
}

/** Open dialogs, innermost last: only the innermost one takes Escape and keeps the focus. */
const openModals: HTMLElement[] = [];

const FOCUSABLE = 'button:not(:disabled), input:not(:disabled), select:not(:disabled), textarea:not(:disabled), a[href], [tabindex]:not([tabindex="-1"])';

/**
 * A dialog over the screen. Focus moves into it when it opens (the first
 * control, or the dialog itself while every control is disabled), Tab and
 * Shift+Tab cycle inside it, and focus goes back where it was when it closes.
 */
export function Modal({ title, children, onClose }: { title: string; children: ReactNode; onClose?: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  // Read while rendering, before a control inside (autoFocus) takes the focus.
  const [before] = useState(() => document.activeElement as HTMLElement | null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && openModals[openModals.length - 1] === box.current) onClose?.();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    openModals.push(el);
    if (!el.contains(document.activeElement)) (el.querySelector<HTMLElement>(FOCUSABLE) ?? el).focus();
    // Focus that lands outside (a click on the page behind, a control inside that became disabled) comes back in.
    const onFocus = (e: FocusEvent) => {
      if (openModals[openModals.length - 1] !== el || el.contains(e.target as Node)) return;
      (el.querySelector<HTMLElement>(FOCUSABLE) ?? el).focus();
    };
    document.addEventListener("focusin", onFocus);
    return () => {
      document.removeEventListener("focusin", onFocus);
      const i = openModals.indexOf(el);
      if (i >= 0) openModals.splice(i, 1);
      // Back where it was, unless the next screen (another dialog) has taken the focus already.
      const now = document.activeElement;
      if (!now || now === document.body || el.contains(now)) before?.focus?.();
    };
  }, [before]);
  const trapTab = (e: ReactKeyboardEvent) => {
    if (e.key !== "Tab" || !box.current) return;
    const all = [...box.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    if (all.length === 0) {
      e.preventDefault();
      return;
    }
    const first = all[0];
    const last = all[all.length - 1];
    if (e.shiftKey && (document.activeElement === first || document.activeElement === box.current)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return (
    <div className="modal-backdrop" onClick={onClose}>
      <div
        ref={box}
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-label={title}
        tabIndex={-1}
        onKeyDown={trapTab}
        onClick={(e) => e.stopPropagation()}
      >
        <h2>{title}</h2>
        {children}
      </div>
    </div>
  );
}

/** A big-button PIN pad; also takes digits, Backspace and Enter from a keyboard. */
export function PinPad({ onSubmit, busy }: { onSubmit: (pin: string) => void; busy?: boolean }) {
  const [pin, setPin] = useState("");
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // Keys typed into a field elsewhere on the screen are not PIN digits.
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
      if (/^\d$/.test(e.key)) setPin((p) => (p.length < 8 ? p + e.key : p));
      else if (e.key === "Backspace") setPin((p) => p.slice(0, -1));
      else if (e.key === "Enter") setPin((p) => (p.length >= 4 && !busy ? (onSubmit(p), "") : p));
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onSubmit, busy]);
  const press = (d: string) => setPin((p) => (p.length < 8 ? p + d : p));
  return (
    <div className="pinpad">
      <div className="pin-dots" aria-label={`${pin.length} digits entered`}>
        {pin.length ? "•".repeat(pin.length) : "Enter PIN"}
      </div>
      <div className="pin-keys">
        {["1", "2", "3", "4", "5", "6", "7", "8", "9"].map((d) => (
          <button key={d} type="button" onClick={() => press(d)} aria-label={`digit ${d}`}>
            {d}
          </button>
        ))}
        <button type="button" onClick={() => setPin("")} aria-label="clear">
          C
        </button>
        <button type="button" onClick={() => press("0")} aria-label="digit 0">
          0
        </button>
        <button
          type="button"
          className="primary"
          disabled={pin.length < 4 || busy}
          onClick={() => {
            onSubmit(pin);
            setPin("");
          }}
        >
          OK
        </button>
      </div>
    </div>
  );
}

/** Pick a staff member, then enter the PIN. `roles` limits who may use this screen. */
export function SignIn({
  title,
  api,
  roles,
  signIn,
}: {
  title: string;
  api: Api;
  roles?: string[];
  signIn: (staffId: string, pin: string) => Promise<unknown>;
}) {
  const [staff, setStaff] = useState<StaffView[] | null>(null);
  const [chosen, setChosen] = useState<StaffView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const allowed = roles?.join(",") ?? ""; // a fresh array each render must not reload the list
  useEffect(() => {
    const only = allowed ? allowed.split(",") : null;
    call(api.GET("/api/v1/auth/staff"))
      .then((r) => setStaff(r.staff.filter((s) => !only || only.includes(s.role))))
      .catch((e) => setError(describe(e)));
  }, [api, allowed]);
  const submit = async (pin: string) => {
    if (!chosen) return;
    setBusy(true);
    setError(null);
    try {
      await signIn(chosen.id, pin);
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <h1>{title}</h1>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {!chosen ? (
        <div className="staff-grid">
          {staff === null && !error && <p>Loading staff…</p>}
          {staff?.map((s) => (
            <button key={s.id} type="button" className="staff-tile" onClick={() => setChosen(s)}>
              <strong>{s.name}</strong>
              <span>{s.role}</span>
            </button>
          ))}
        </div>
      ) : (
        <div className="signin-pin">
          <p>
            Signing in as <strong>{chosen.name}</strong>{" "}
            <button type="button" className="link" onClick={() => setChosen(null)}>
              not you?
            </button>
          </p>
          <PinPad onSubmit={submit} busy={busy} />
        </div>
      )}
    </main>
  );
}

/**
 * The menu, reloaded whenever `version` (from a `menu.changed` event) moves on.
 * A slower, older answer never replaces a newer one; `onError` sees failures
 * (pass the session's, so a 401 signs out).
 */
export function useMenu(api: Api, enabled: boolean, version = 0, onError?: (e: unknown) => void) {
  const [menu, setMenu] = useState<MenuView | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!enabled) return;
    let current = true;
    call(api.GET("/api/v1/menu"))
      .then((m) => {
        if (!current) return;
        setMenu((old) => (old && old.version > m.version ? old : m));
        setError(null);
      })
      .catch((e) => {
        if (!current) return;
        setError(describe(e));
        onError?.(e);
      });
    return () => {
      current = false;
    };
  }, [api, enabled, version, onError]);
  return { menu, error };
}

/** Price of an item with the chosen modifiers, per unit. */
export function unitPrice(menu: Menu, item: Item, chosen: string[]): number {
  let p = item.price;
  for (const g of menu.modifier_groups) for (const m of g.modifiers) if (chosen.includes(m.id)) p += m.price_delta ?? 0;
  return p;
}

/**
 * Choose modifiers for an item, enforcing each group's min and max the same way
 * the server does: a choice beyond `max` is refused (single-choice groups switch),
 * and Add stays disabled until every required group has its minimum.
 */
export function ModifierDialog({
  menu,
  item,
  onAdd,
  onCancel,
  withNote = true,
  large = false,
}: {
  menu: Menu;
  item: Item;
  onAdd: (line: LineRequest) => void;
  onCancel: () => void;
  withNote?: boolean;
  large?: boolean;
}) {
  const groups = useMemo(
    () => (item.modifier_groups ?? []).map((id) => menu.modifier_groups.find((g) => g.id === id)!).filter(Boolean),
    [menu, item],
  );
  const [chosen, setChosen] = useState<string[]>([]);
  const [quantity, setQuantity] = useState(1);
  const [note, setNote] = useState("");
  const count = (gid: string) => groups.find((g) => g.id === gid)!.modifiers.filter((m) => chosen.includes(m.id)).length;
  const toggle = (gid: string, mid: string) => {
    const g = groups.find((x) => x.id === gid)!;
    setChosen((c) => {
      if (c.includes(mid)) return c.filter((x) => x !== mid);
      if (g.max === 1) return [...c.filter((x) => !g.modifiers.some((m) => m.id === x)), mid];
      return count(gid) >= g.max ? c : [...c, mid];
    });
  };
  const missing = groups.filter((g) => count(g.id) < g.min);
  const currency = menu.currency;
  return (
    <Modal title={item.name} onClose={onCancel}>
      <div className={large ? "modifiers large" : "modifiers"}>
        {groups.map((g) => (
          <fieldset key={g.id} className="modifier-group" data-testid={`group-${g.id}`}>
            <legend>
              {g.name}{" "}
              <small>
                {g.min > 0 ? `choose ${g.min === g.max ? g.min : `${g.min} to ${g.max}`}` : `optional, up to ${g.max}`}
              </small>
            </legend>
            {g.modifiers.map((m) => {
              const on = chosen.includes(m.id);
              const full = !on && g.max > 1 && count(g.id) >= g.max;
              return (
                <button
                  key={m.id}
                  type="button"
                  className={on ? "choice on" : "choice"}
                  aria-pressed={on}
                  disabled={m.sold_out || full}
                  onClick={() => toggle(g.id, m.id)}
                >
                  {m.name}
                  {m.sold_out ? " — sold out" : m.price_delta ? ` +${formatMoney(m.price_delta, currency)}` : ""}
                </button>
              );
            })}
          </fieldset>
        ))}
        <div className="qty">
          <button type="button" aria-label="one less" onClick={() => setQuantity((q) => Math.max(1, q - 1))}>
            −
          </button>
          <span aria-live="polite" data-testid="quantity">
            {quantity}
          </span>
          <button type="button" aria-label="one more" onClick={() => setQuantity((q) => Math.min(99, q + 1))}>
            +
          </button>
        </div>
        {withNote && (
          <label className="note">
            Note for the kitchen
            <input value={note} maxLength={200} onChange={(e) => setNote(e.target.value)} placeholder="e.g. no pickles" />
          </label>
        )}
      </div>
      <div className="modal-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button
          type="button"
          className="primary"
          disabled={missing.length > 0}
          title={missing.length ? `Choose: ${missing.map((g) => g.name).join(", ")}` : undefined}
          onClick={() => onAdd({ item_id: item.id, quantity, modifiers: chosen, note: note.trim() || null })}
        >
          {missing.length
            ? `Choose ${missing.map((g) => g.name).join(", ")}`
            : `Add ${quantity} — ${formatMoney(unitPrice(menu, item, chosen) * quantity, currency)}`}
        </button>
      </div>
    </Modal>
  );
}

/** The store node's link to the cloud hub, in words, refreshed every few seconds. */
export function HubBadge({ api }: { api: Api }) {
  const [text, setText] = useState("Hub: …");
  const [tone, setTone] = useState<LinkStatus>("connecting");
  useEffect(() => {
    let live = true;
    const poll = () =>
      call(api.GET("/api/v1/sync/status"))
        .then((s) => {
          if (!live) return;
          if (!s.configured) {
            setText("Hub: not set up (works offline)");
            setTone("live");
          } else if (s.connected) {
            setText(s.events_waiting ? `Hub: sending ${s.events_waiting} changes` : "Hub: in sync");
            setTone("live");
          } else {
            setText(`Hub: unreachable — ${s.events_waiting} changes waiting (works offline)`);
            setTone("offline");
          }
        })
        .catch(() => live && setText("Hub: status unknown"));
    poll();
    const t = setInterval(poll, 5000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [api]);
  return (
    <span className={`badge badge-${tone}`} data-testid="sync-status">
      {text}
    </span>
  );
}
