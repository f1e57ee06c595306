// Devices: the store's servers (connected, or away since when; when they were
// set up and by whom; disconnect one for good, asked first), the devices they
// reported and their health in words, and pairing a new store server: a short
// code shown big with the time it has left, counting down, and the unused
// codes with who made them and a Revoke button.
import { type FormEvent, useEffect, useState } from "react";
import type { StoreChoice } from "./App";
import { type PairingCodeIssued, type PairingCodeList, type StoreNodes, api, hub, write } from "./hub";
import { Problem } from "./said";
import { usePoll } from "./poll";
import { PAIRING_INSTRUCTIONS, healthWords, kindWords, timeLeftWords, timeWords, words } from "./words";
import { Said } from "./said";

/** How long a pairing code works (the hub's rule); the countdown never shows more. */
const CODE_TTL_MS = 10 * 60 * 1000;

/** A server listed on the page: enrolled with a pairing code, or (older) with a connection code. */
type Server = {
  key: string;
  name: string;
  online: boolean;
  lastSeenMs: number | null;
  revoked: boolean;
  setUp: string | null;
  waiting: number | null;
  disconnect: () => Promise<void>;
};

export function Devices({ store }: { store: StoreChoice }) {
  const [data, setData] = useState<StoreNodes | null>(null);
  const [codes, setCodes] = useState<PairingCodeList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [label, setLabel] = useState("");
  const [issued, setIssued] = useState<PairingCodeIssued | null>(null);
  const [note, setNote] = useState<string | null>(null);
  /** The listed server whose "Disconnect for good" waits for a yes. */
  const [asking, setAsking] = useState<string | null>(null);
  /** The hub's clock minus ours, so the countdown follows the hub. */
  const [offset, setOffset] = useState(0);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, []);

  async function load() {
    try {
      const [nodes, list] = await Promise.all([
        hub(() => api.GET("/api/v1/stores/{id}/nodes", { params: { path: { id: store.id } } })),
        hub(() => api.GET("/api/v1/stores/{id}/pairing-codes", { params: { path: { id: store.id } } })),
      ]);
      setData(nodes);
      setCodes(list);
      setOffset(list.now_ms - Date.now());
      setError(null);
    } catch (e) {
      setError(words(e));
    }
  }
  usePoll(load, 3000, [store.id]);

  async function makeCode(e: FormEvent) {
    e.preventDefault();
    setNote(null);
    try {
      const body = label.trim() ? { label: label.trim() } : {};
      const c = await write((h) => api.POST("/api/v1/stores/{id}/pairing-codes", { params: { path: { id: store.id }, header: h }, body }));
      setIssued(c);
      setNow(Date.now());
      setLabel("");
      await load();
    } catch (err) {
      setError(words(err));
    }
  }

  async function revokeCode(codeId: string) {
    setNote(null);
    try {
      await write((h) =>
        api.POST("/api/v1/stores/{id}/pairing-codes/{code_id}/revoke", { params: { path: { id: store.id, code_id: codeId }, header: h } }),
      );
      if (issued?.code_id === codeId) setIssued(null);
      setNote("That code no longer works.");
      await load();
    } catch (err) {
      setError(words(err));
    }
  }

  async function done(what: string, act: () => Promise<unknown>) {
    setNote(null);
    try {
      await act();
      setNote(`${what} is disconnected and can no longer sync with the cloud.`);
      setAsking(null);
      await load();
    } catch (err) {
      setError(words(err));
    }
  }

  if (error && !data) return <Problem text={error} retry={load} />;
  if (!data) return <p aria-live="polite">Loading the devices…</p>;
  const hubNow = now + offset;
  const servers: Server[] = [
    ...data.enrolled.map((n) => {
      const name = n.label ?? "Store server";
      return {
        key: n.node_id,
        name,
        online: n.online,
        lastSeenMs: null,
        revoked: n.revoked_at_ms != null,
        setUp: `Set up ${timeWords(n.enrolled_at_ms, now)} with a code from ${n.enrolled_by_name}`,
        waiting: null,
        disconnect: () =>
          done(name, () =>
            write((h) =>
              api.POST("/api/v1/stores/{id}/nodes/{node_id}/revoke", { params: { path: { id: store.id, node_id: n.node_id }, header: h } }),
            ),
          ),
      };
    }),
    ...data.nodes.map((n) => ({
      key: n.token_sha256,
      name: n.label,
      online: n.connected,
      lastSeenMs: n.last_seen_ms ?? null,
      revoked: n.revoked,
      setUp: null,
      waiting: n.events_waiting,
      disconnect: () =>
        done(n.label, () =>
          write((h) =>
            api.POST("/api/v1/stores/{id}/node-tokens/revoke", { params: { path: { id: store.id }, header: h }, body: { token_sha256: n.token_sha256 } }),
          ),
        ),
    })),
  ];
  const unused = (codes?.codes ?? []).filter((c) => c.revoked_at_ms == null && c.expires_at_ms > hubNow);
  return (
    <section>
      <h1>Devices</h1>
      <p className={data.ordering.accepting ? "note" : "problem"}>
        Online ordering: {data.ordering.accepting ? "taking orders" : data.ordering.message}
      </p>
      <Said error={error} note={note} />
      <div className="card">
        <h2>Store servers</h2>
        {servers.length === 0 && <p className="muted">No store server has been set up yet: pair one below.</p>}
        <ul className="plain">
          {servers.map((n) => (
            <li key={n.key} className="device" data-node={n.name}>
              <strong>{n.name}</strong>{" "}
              {n.revoked ? (
                <span className="tag">Disconnected for good</span>
              ) : n.online ? (
                <span className="tag tag-ok">Online</span>
              ) : (
                <span className="tag tag-bad">{n.lastSeenMs ? `Away since ${timeWords(n.lastSeenMs, now)}` : "Away"}</span>
              )}
              {n.setUp && (
                <>
                  <br />
                  <span className="muted small">{n.setUp}.</span>
                </>
              )}
              {n.waiting != null && (
                <>
                  <br />
                  <span className="muted small">
                    {n.waiting === 0 ? "Nothing waiting to sync." : `${n.waiting} change${n.waiting === 1 ? "" : "s"} waiting to sync to it.`}
                  </span>
                </>
              )}
              {!n.revoked &&
                (asking === n.key ? (
                  <span className="row wrap confirm" role="group" aria-label={`Disconnect ${n.name}?`}>
                    <span>
                      {n.name} stops syncing with the cloud until it is paired again with a new code. Its tills keep working in the store.
                    </span>
                    <button type="button" className="danger" onClick={() => void n.disconnect()}>
                      Yes, disconnect {n.name}
                    </button>
                    <button type="button" onClick={() => setAsking(null)}>
                      Keep it
                    </button>
                  </span>
                ) : (
                  <button type="button" className="link-button" onClick={() => setAsking(n.key)}>
                    Disconnect {n.name} for good
                  </button>
                ))}
            </li>
          ))}
        </ul>
      </div>
      <div className="card">
        <h2>Pair a store server</h2>
        <form className="row wrap" onSubmit={makeCode}>
          <label>
            Which store server (optional, for example "Counter")
            <input maxLength={100} value={label} onChange={(e) => setLabel(e.target.value)} />
          </label>
          <button className="primary" type="submit">
            Make a pairing code
          </button>
        </form>
        {issued && (
          <div className="note pairing" role="status">
            <p className="pairing-code" data-testid="pairing-code">
              {issued.code}
            </p>
            <p className="pairing-left" data-testid="pairing-left">
              {timeLeftWords(Math.min(issued.expires_at_ms - hubNow, CODE_TTL_MS))}
            </p>
            <p>{PAIRING_INSTRUCTIONS}</p>
            <p className="muted small">The code works once, for 10 minutes. It is shown only here.</p>
          </div>
        )}
        <h3>Codes not used yet</h3>
        {unused.length === 0 && <p className="muted">None.</p>}
        <ul className="plain">
          {unused.map((c) => (
            <li key={c.code_id} className="device" data-code={c.code_id}>
              <strong>{c.label ?? "Pairing code"}</strong>{" "}
              <span className="muted small">
                made by {c.created_by_name} {timeWords(c.created_at_ms, now)}, {timeLeftWords(Math.min(c.expires_at_ms - hubNow, c.expires_at_ms - c.created_at_ms))}
              </span>{" "}
              <button type="button" className="danger" onClick={() => void revokeCode(c.code_id)}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      </div>
      <div className="card">
        <h2>Printers and other devices</h2>
        {data.devices.length === 0 && <p className="muted">No devices reported yet.</p>}
        <ul className="plain">
          {data.devices.map((d) => {
            const h = healthWords(d.health);
            return (
              <li key={d.id} className="device" data-device={d.id}>
                <strong>{d.name ?? d.id}</strong> <span className="muted">{kindWords(d.kind)}</span>{" "}
                <span className={h.ok ? "tag tag-ok" : "tag tag-bad"} data-testid="device-health">
                  {h.text}
                </span>
                <br />
                <span className="muted small">Last report {timeWords(d.updated_ms)}</span>
              </li>
            );
          })}
        </ul>
      </div>
    </section>
  );
}
