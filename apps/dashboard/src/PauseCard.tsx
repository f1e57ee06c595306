// Pausing online ordering for a while (a broken oven, a rush, short of staff),
// with what customers are told; it starts again by itself at the end, or at
// once with "Resume now". Separate from the settings form: it acts at once.
import { type FormEvent, useState } from "react";
import { api, write } from "./hub";
import { clockWords, words } from "./words";
import { Said } from "./said";

const FOR = [
  { minutes: 15, label: "15 minutes" },
  { minutes: 30, label: "30 minutes" },
  { minutes: 60, label: "1 hour" },
  { minutes: 120, label: "2 hours" },
  { minutes: 240, label: "4 hours" },
] as const;

export function PauseCard({
  storeId,
  settings,
  onSaved,
}: {
  storeId: string;
  settings: Record<string, unknown>;
  onSaved: (s: Record<string, unknown>) => void;
}) {
  const [minutes, setMinutes] = useState<number>(30);
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const until = typeof settings.paused_until_ms === "number" ? settings.paused_until_ms : 0;
  const paused = until > Date.now();
  const told = typeof settings.pause_message === "string" ? settings.pause_message : "";

  async function put(body: { paused_until_ms: number; pause_message?: string }, done: string) {
    setBusy(true);
    setError(null);
    setNote(null);
    try {
      const s = (await write((h) => api.PUT("/api/v1/stores/{id}/settings", { params: { path: { id: storeId }, header: h }, body }))) as Record<string, unknown>;
      onSaved(s);
      setNote(done);
    } catch (e) {
      setError(words(e));
    } finally {
      setBusy(false);
    }
  }

  function pause(e: FormEvent) {
    e.preventDefault();
    const at = Date.now() + minutes * 60_000;
    void put({ paused_until_ms: at, pause_message: message.trim() }, `Online ordering is paused until ${clockWords(at)}.`);
  }

  return (
    <div className="card stack" aria-labelledby="pause-title">
      <h2 id="pause-title">Pause online ordering</h2>
      {paused ? (
        <>
          <p className="problem-soft" data-testid="pause-state">
            Paused until {clockWords(until)}. {told ? `Customers are told: “${told}”` : "Customers are told online ordering starts again then."}
          </p>
          <div className="row wrap">
            <button type="button" className="primary" disabled={busy} onClick={() => void put({ paused_until_ms: 0 }, "Online ordering is on again.")}>
              Resume online ordering now
            </button>
          </div>
        </>
      ) : (
        <form className="stack" onSubmit={pause}>
          <p className="muted">Stops online orders for a while; it starts again by itself. Orders at the tills and kiosks go on.</p>
          <div className="row wrap">
            <label>
              For
              <select value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
                {FOR.map((o) => (
                  <option key={o.minutes} value={o.minutes}>
                    {o.label}
                  </option>
                ))}
              </select>
            </label>
            <label className="grow">
              What customers are told (optional)
              <input maxLength={200} value={message} placeholder="Our oven is being repaired." onChange={(e) => setMessage(e.target.value)} />
            </label>
          </div>
          <div className="row wrap">
            <button type="submit" className="danger" disabled={busy}>
              Pause online ordering
            </button>
          </div>
        </form>
      )}
      <Said error={error} note={note} />
    </div>
  );
}
