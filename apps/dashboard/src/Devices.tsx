// Devices: the store's nodes (connected, or away since when; what waits to
// sync to them), the devices they reported and their health in words, and node
// tokens: make one (shown once), disconnect a listed server for good (asked
// first), or revoke a pasted code.
import { type FormEvent, useState } from "react";
import type { StoreChoice } from "./App";
import { type StoreNodes, api, hub, write } from "./hub";
import { Problem } from "./said";
import { usePoll } from "./poll";
import { healthWords, kindWords, timeWords, words } from "./words";
import { Said } from "./said";

export function Devices({ store }: { store: StoreChoice }) {
  const [data, setData] = useState<StoreNodes | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [label, setLabel] = useState("");
  const [issued, setIssued] = useState<{ label: string; token: string; sha: string } | null>(null);
  const [revokeText, setRevokeText] = useState("");
  const [note, setNote] = useState<string | null>(null);
  /** The listed server whose "Disconnect for good" waits for a yes. */
  const [asking, setAsking] = useState<string | null>(null);

  async function load() {
    try {
      setData(await hub(() => api.GET("/api/v1/stores/{id}/nodes", { params: { path: { id: store.id } } })));
      setError(null);
    } catch (e) {
      setError(words(e));
    }
  }
  usePoll(load, 3000, [store.id]);

  async function create(e: FormEvent) {
    e.preventDefault();
    setNote(null);
    try {
      const t = await write((h) => api.POST("/api/v1/stores/{id}/node-tokens", { params: { path: { id: store.id }, header: h }, body: { label: label.trim() } }));
      setIssued({ label: t.label, token: t.token, sha: t.token_sha256 });
      setLabel("");
      await load();
    } catch (err) {
      setError(words(err));
    }
  }

  async function revoke(body: { token?: string; token_sha256?: string }, what: string) {
    setNote(null);
    try {
      await write((h) => api.POST("/api/v1/stores/{id}/node-tokens/revoke", { params: { path: { id: store.id }, header: h }, body }));
      setNote(`${what} can no longer connect.`);
      if (body.token_sha256 && body.token_sha256 === issued?.sha) setIssued(null);
      setRevokeText("");
      setAsking(null);
      await load();
    } catch (err) {
      setError(words(err));
    }
  }

  if (error && !data) return <Problem text={error} retry={load} />;
  if (!data) return <p aria-live="polite">Loading the devices…</p>;
  return (
    <section>
      <h1>Devices</h1>
      <p className={data.ordering.accepting ? "note" : "problem"}>
        Online ordering: {data.ordering.accepting ? "taking orders" : data.ordering.message}
      </p>
      <Said error={error} note={note} />
      <div className="card">
        <h2>Store servers</h2>
        {data.nodes.length === 0 && <p className="muted">No store server has been set up yet: make a connection code below.</p>}
        <ul className="plain">
          {data.nodes.map((n) => (
            <li key={n.token_sha256} className="device" data-node={n.label}>
              <strong>{n.label}</strong>{" "}
              {n.revoked ? (
                <span className="tag">Disconnected for good</span>
              ) : n.connected ? (
                <span className="tag tag-ok">Online</span>
              ) : (
                <span className="tag tag-bad">{n.last_seen_ms ? `Away since ${timeWords(n.last_seen_ms)}` : "Never connected"}</span>
              )}
              <br />
              <span className="muted small">
                {n.events_waiting === 0 ? "Nothing waiting to sync." : `${n.events_waiting} change${n.events_waiting === 1 ? "" : "s"} waiting to sync to it.`}
              </span>
              {!n.revoked &&
                (asking === n.token_sha256 ? (
                  <span className="row wrap confirm" role="group" aria-label={`Disconnect ${n.label}?`}>
                    <span>
                      {n.label} stops syncing with the cloud until it is set up again with a new code. Its tills keep working in the store.
                    </span>
                    <button type="button" className="danger" onClick={() => void revoke({ token_sha256: n.token_sha256 }, n.label)}>
                      Yes, disconnect {n.label}
                    </button>
                    <button type="button" onClick={() => setAsking(null)}>
                      Keep it
                    </button>
                  </span>
                ) : (
                  <button type="button" className="link-button" onClick={() => setAsking(n.token_sha256)}>
                    Disconnect {n.label} for good
                  </button>
                ))}
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
      <div className="card">
        <h2>Connection codes for store servers</h2>
        <form className="row wrap" onSubmit={create}>
          <label>
            Which store server (for example "Counter")
            <input required maxLength={100} value={label} onChange={(e) => setLabel(e.target.value)} />
          </label>
          <button className="primary" type="submit">
            Make a connection code
          </button>
        </form>
        {issued && (
          <div className="note" role="status">
            <p>Connection code for {issued.label}. Copy it now: it is shown only once.</p>
            <code className="secret" data-testid="node-token">
              {issued.token}
            </code>
            <p>
              <button type="button" className="danger" onClick={() => void revoke({ token_sha256: issued.sha }, issued.label)}>
                Revoke this code
              </button>
            </p>
          </div>
        )}
        <form
          className="row wrap"
          onSubmit={(e) => {
            e.preventDefault();
            void revoke({ token: revokeText.trim() }, "That store server");
          }}
        >
          <label>
            Revoke a connection code (paste it)
            <input required autoComplete="off" value={revokeText} onChange={(e) => setRevokeText(e.target.value)} />
          </label>
          <button className="danger" type="submit">
            Revoke
          </button>
        </form>
      </div>
    </section>
  );
}
