// The customer's account: name and phone for the store, notes they reuse, and
// favourite items (with a link to order them again), kept at the hub.
import { useEffect, useState } from "react";
import { Link, useAccount } from "./App";
import { AuthForm } from "./Auth";
import { type PublicMenu, api, hub, words } from "./hub";
import { loadProfile, saveProfile, useProfile } from "./profile";

/** The public menus of the stores the favourites are at, for the items' names. */
function useMenus(storeIds: string[]) {
  const [menus, setMenus] = useState<Record<string, PublicMenu | null>>({});
  const key = [...new Set(storeIds)].sort().join(",");
  useEffect(() => {
    let live = true;
    for (const id of key ? key.split(",") : []) {
      hub(() => api.GET("/api/v1/public/stores/{id}/menu", { params: { path: { id } } }))
        .then((m) => live && setMenus((all) => ({ ...all, [id]: m })))
        .catch(() => live && setMenus((all) => ({ ...all, [id]: null })));
    }
    return () => {
      live = false;
    };
  }, [key]);
  return menus;
}

export function AccountPage() {
  const account = useAccount();
  const profile = useProfile();
  const [name, setName] = useState("");
  const [phone, setPhone] = useState("");
  const [newNote, setNewNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ text: string; bad: boolean } | null>(null);
  const menus = useMenus(profile?.favourites.map((f) => f.store_id) ?? []);

  useEffect(() => {
    if (profile) {
      setName(profile.name);
      setPhone(profile.phone ?? "");
    }
  }, [profile?.name, profile?.phone]);
  useEffect(() => {
    if (account) loadProfile(true).catch((e) => setMessage({ text: words(e), bad: true }));
  }, [account?.email]);

  if (!account)
    return (
      <main className="page">
        <h1>Your account</h1>
        <AuthForm intro="Sign in to see your account." />
      </main>
    );
  if (!profile)
    return (
      <main className="page" aria-busy={!message}>
        <h1>Your account</h1>
        {message ? <p className="notice notice-bad" role="alert">{message.text}</p> : <p>Loading your account…</p>}
      </main>
    );

  const save = async (update: Parameters<typeof saveProfile>[0], done: string) => {
    setBusy(true);
    setMessage(null);
    try {
      await saveProfile(update);
      setMessage({ text: done, bad: false });
    } catch (e) {
      setMessage({ text: words(e), bad: true });
    } finally {
      setBusy(false);
    }
  };
  const itemName = (store: string, item: string) => menus[store]?.menu.items.find((i) => i.id === item)?.name;

  return (
    <main className="page">
      <h1>Your account</h1>
      <p className="muted">Signed in as {profile.email}.</p>
      {message && (
        <p className={message.bad ? "notice notice-bad" : "notice"} role={message.bad ? "alert" : "status"}>
          {message.text}
        </p>
      )}
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void save({ name: name.trim(), phone: phone.trim() }, "Your details are saved.");
        }}
      >
        <h2>Your details</h2>
        <label>
          Name (the store calls it at the counter)
          <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" required maxLength={80} />
        </label>
        <label>
          Phone (optional, for the store to call about an order)
          <input type="tel" value={phone} onChange={(e) => setPhone(e.target.value)} autoComplete="tel" maxLength={30} />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          Save details
        </button>
      </form>

      <section aria-labelledby="notes-title">
        <h2 id="notes-title">Saved notes</h2>
        <p className="muted">Notes you use often, ready to pick at checkout.</p>
        {profile.saved_notes.length === 0 && <p>No saved notes yet.</p>}
        <ul className="chips-list">
          {profile.saved_notes.map((n) => (
            <li key={n}>
              <span>{n}</span>
              <button
                type="button"
                className="link"
                aria-label={`Remove the note: ${n}`}
                disabled={busy}
                onClick={() => void save({ saved_notes: profile.saved_notes.filter((x) => x !== n) }, "Note removed.")}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
        {profile.saved_notes.length < 10 && (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              const n = newNote.trim();
              if (!n || profile.saved_notes.includes(n)) return;
              void save({ saved_notes: [...profile.saved_notes, n] }, "Note saved.").then(() => setNewNote(""));
            }}
          >
            <label>
              New note
              <input value={newNote} onChange={(e) => setNewNote(e.target.value)} maxLength={200} placeholder="e.g. no onions, please" />
            </label>
            <button type="submit" disabled={busy || !newNote.trim()}>
              Save note
            </button>
          </form>
        )}
      </section>

      <section aria-labelledby="fav-title">
        <h2 id="fav-title">Favourites</h2>
        {profile.favourites.length === 0 && <p>No favourites yet. Tap ☆ next to an item on a menu to keep it here.</p>}
        <ul className="chips-list">
          {profile.favourites.map((f) => (
            <li key={`${f.store_id}/${f.item_id}`}>
              <Link to={`/stores/${encodeURIComponent(f.store_id)}`}>
                {itemName(f.store_id, f.item_id) ?? "An item no longer on the menu"}
              </Link>
              <button
                type="button"
                className="link"
                aria-label={`Remove ${itemName(f.store_id, f.item_id) ?? "this item"} from favourites`}
                disabled={busy}
                onClick={() =>
                  void save(
                    { favourites: profile.favourites.filter((x) => !(x.store_id === f.store_id && x.item_id === f.item_id)) },
                    "Removed from your favourites.",
                  )
                }
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
