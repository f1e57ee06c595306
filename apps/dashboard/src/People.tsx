// People: the hub accounts who work at the store (members and their roles,
// invitations, role changes, removal: an organisation-wide owner's job), and the
// PIN staff of the tills (the roster the store's nodes sign in with).
import { type FormEvent, useEffect, useState } from "react";
import type { StoreChoice } from "./App";
import { type Member, api, hub, write } from "./hub";
import { Problem } from "./said";
import { STAFF_ROLES, roleWords, timeWords, words } from "./words";
import { Said } from "./said";

type Members = Awaited<ReturnType<typeof loadMembers>>;
function loadMembers(store: string) {
  return hub(() => api.GET("/api/v1/stores/{id}/members", { params: { path: { id: store } } }));
}

export function People({ store }: { store: StoreChoice }) {
  return (
    <section>
      <h1>People</h1>
      <Accounts store={store} />
      <Roster store={store} />
    </section>
  );
}

function Accounts({ store }: { store: StoreChoice }) {
  const [data, setData] = useState<Members | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<string>("cashier");
  const [code, setCode] = useState<{ email: string; token: string } | null>(null);
  const orgId = data?.org_id ?? store.orgId;

  async function load() {
    try {
      setData(await loadMembers(store.id));
    } catch (e) {
      setError(words(e));
    }
  }
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store.id]);

  async function act(what: () => Promise<unknown>, done: string) {
    setError(null);
    setNote(null);
    try {
      await what();
      setNote(done);
      await load();
    } catch (e) {
      setError(words(e));
    }
  }

  async function invite(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setNote(null);
    try {
      const r = (await write((h) =>
        api.POST("/api/v1/orgs/{org_id}/invitations", {
          params: { path: { org_id: orgId } },
          headers: h,
          body: { email: email.trim(), role, store_id: store.orgWide && role === "owner" ? null : store.id },
        }),
      )) as { token?: string };
      setCode(r.token ? { email: email.trim(), token: r.token } : null);
      setEmail("");
      await load();
    } catch (err) {
      setError(words(err));
    }
  }

  const setRoleOf = (m: Member, r: string) =>
    act(
      () =>
        write((h) =>
          api.PUT("/api/v1/orgs/{org_id}/members/{user_id}", {
            params: { path: { org_id: orgId, user_id: m.user_id }, header: h },
            body: { role: r, store_id: m.store_id ?? null },
          }),
        ),
      `${m.name || m.email} is now ${roleWords(r).toLowerCase()}.`,
    );
  const remove = (m: Member) =>
    act(
      () => write((h) => api.DELETE("/api/v1/orgs/{org_id}/members/{user_id}", { params: { path: { org_id: orgId, user_id: m.user_id }, header: h } })),
      `${m.name || m.email} no longer works here.`,
    );

  if (error && !data) return <Problem text={error} retry={load} />;
  if (!data) return <p aria-live="polite">Loading the people…</p>;
  return (
    <div className="card">
      <h2>Accounts</h2>
      <p className="muted">People who sign in with an email: owners and managers use this dashboard, cashiers and kitchen staff can sign in at the tills with it.</p>
      <Said error={error} note={note} />
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Where</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {data.members.map((m) => (
            <tr key={`${m.user_id}/${m.store_id ?? ""}`} data-member={m.email}>
              <td>
                <strong>{m.name || m.email}</strong>
                <br />
                <span className="muted small">{m.email}</span>
              </td>
              <td>
                <label className="field-inline">
                  <span className="sr-only">Role of {m.email}</span>
                  <select value={m.role} onChange={(e) => void setRoleOf(m, e.target.value)}>
                    {STAFF_ROLES.map((r) => (
                      <option key={r} value={r}>
                        {roleWords(r)}
                      </option>
                    ))}
                  </select>
                </label>
              </td>
              <td>{m.store_id ? "This store" : "Every store"}</td>
              <td>
                <button type="button" className="danger" onClick={() => void remove(m)}>
                  Remove {m.name || m.email}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data.invitations.length > 0 && (
        <>
          <h3>Invited, not joined yet</h3>
          <ul>
            {data.invitations.map((i) => (
              <li key={i.id}>
                {i.email} as {roleWords(i.role).toLowerCase()} (invited {timeWords(i.created_at)})
              </li>
            ))}
          </ul>
        </>
      )}
      <form className="row wrap" onSubmit={invite}>
        <label>
          Invite by email
          <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Their role
          <select value={role} onChange={(e) => setRole(e.target.value)}>
            {STAFF_ROLES.map((r) => (
              <option key={r} value={r}>
                {roleWords(r)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary">
          Invite
        </button>
      </form>
      {code && (
        <div className="note" role="status">
          <p>
            Invitation made for {code.email}. Give them this invitation code to join (it is shown only now):
          </p>
          <code className="secret" data-testid="invitation-code">
            {code.token}
          </code>
        </div>
      )}
    </div>
  );
}

interface Staff {
  id: string;
  name: string | null;
  role: string | null;
  active: boolean | null;
}

function Roster({ store }: { store: StoreChoice }) {
  const [staff, setStaff] = useState<Staff[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [editing, setEditing] = useState<{ id: string | null; name: string; role: string; pin: string; active: boolean } | null>(null);

  async function load() {
    try {
      const r = await hub(() => api.GET("/api/v1/stores/{id}/staff", { params: { path: { id: store.id } } }));
      setStaff(r.staff as Staff[]);
    } catch (e) {
      setError(words(e));
    }
  }
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store.id]);

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!editing) return;
    setError(null);
    if (!/^\d{4,8}$/.test(editing.pin)) {
      setError("The PIN is 4 to 8 digits.");
      return;
    }
    const id = editing.id ?? newId(editing.name, staff ?? []);
    try {
      await write((h) =>
        api.PUT("/api/v1/stores/{id}/staff/{staff_id}", {
          params: { path: { id: store.id, staff_id: id }, header: h },
          body: { name: editing.name.trim(), role: editing.role, pin: editing.pin, active: editing.active },
        }),
      );
      setNote(`${editing.name.trim()} is saved. The tills get it the next time they sync.`);
      setEditing(null);
      await load();
    } catch (err) {
      setError(words(err));
    }
  }

  return (
    <div className="card">
      <h2>Till staff (PIN)</h2>
      <p className="muted">People who sign in at the store's tills with a PIN.</p>
      <Said error={error} note={note} />
      {!staff ? (
        !error && <p>Loading the till staff…</p>
      ) : (
        <ul className="plain">
          {staff.map((s) => (
            <li key={s.id} className="row between">
              <span>
                <strong>{s.name ?? s.id}</strong> <span className="muted">{roleWords(s.role)}{s.active === false ? ", not active" : ""}</span>
              </span>
              <button type="button" onClick={() => setEditing({ id: s.id, name: s.name ?? "", role: s.role ?? "cashier", pin: "", active: s.active !== false })}>
                Edit {s.name ?? s.id}
              </button>
            </li>
          ))}
        </ul>
      )}
      {editing ? (
        <form className="stack" onSubmit={save}>
          <h3>{editing.id ? `Edit ${editing.name}` : "Add till staff"}</h3>
          <label>
            Name
            <input required value={editing.name} onChange={(e) => setEditing({ ...editing, name: e.target.value })} />
          </label>
          <label>
            Role
            <select value={editing.role} onChange={(e) => setEditing({ ...editing, role: e.target.value })}>
              {[...STAFF_ROLES, "customer"].map((r) => (
                <option key={r} value={r}>
                  {roleWords(r)}
                </option>
              ))}
            </select>
          </label>
          <label>
            {editing.id ? "New PIN (4 to 8 digits; needed to save)" : "PIN (4 to 8 digits)"}
            <input inputMode="numeric" autoComplete="off" required value={editing.pin} onChange={(e) => setEditing({ ...editing, pin: e.target.value })} />
          </label>
          <label className="check">
            <input type="checkbox" checked={editing.active} onChange={(e) => setEditing({ ...editing, active: e.target.checked })} />
            May sign in
          </label>
          <div className="row">
            <button type="submit" className="primary">
              Save
            </button>
            <button type="button" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        staff && (
          <button type="button" onClick={() => setEditing({ id: null, name: "", role: "cashier", pin: "", active: true })}>
            Add till staff
          </button>
        )
      )}
    </div>
  );
}

/** A roster id from a name: "Ana Lopez" -> "ana-lopez" (with a number when taken). */
function newId(name: string, staff: Staff[]): string {
  const base = name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "staff";
  let id = base;
  for (let n = 2; staff.some((s) => s.id === id); n++) id = `${base}-${n}`;
  return id;
}
