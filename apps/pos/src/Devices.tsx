// Devices & printing: the header button with a badge when a printer needs a
// person or print jobs failed, and the panel behind it: every device with its
// state in words and colour and its queue, and the dead-letter list of print
// jobs that failed every attempt. Managers send a failed job again to its own
// printer or to another one; everyone else sees the list. The till keeps the
// device list current from the event stream (see App.tsx); the panel re-reads
// the failed jobs when a print notice says something changed.
import { useEffect, useMemo, useRef, useState } from "react";
import {
  type Api,
  type DeviceView,
  ErrorBanner,
  KIND_NAMES,
  Modal,
  type PrintJob,
  type Role,
  call,
  describe,
  healthText,
  isPrinter,
  problemCount,
} from "@edge/shared";
import { type Idempotency, isManager } from "./model";

/** The header button: "Devices" with what is wrong, counted on a badge. */
export function DevicesButton({ devices, onOpen }: { devices: readonly DeviceView[] | null; onOpen: () => void }) {
  const active = devices?.filter((d) => d.active) ?? [];
  const problems = devices ? problemCount(devices) : 0;
  const summary =
    devices === null
      ? "…"
      : problems > 0
        ? `${problems} need${problems === 1 ? "s" : ""} attention`
        : active.length === 0
          ? "none set up"
          : "all OK";
  return (
    <button
      type="button"
      className={problems > 0 ? "devices-button attention" : "devices-button"}
      data-testid="devices-button"
      data-problems={problems}
      aria-label={`Devices and printing: ${summary}`}
      onClick={onOpen}
    >
      Devices
      {problems > 0 ? (
        <span className="count warn" data-testid="devices-badge">
          {problems}
        </span>
      ) : (
        <small className="muted" data-testid="device-status">
          {summary}
        </small>
      )}
    </button>
  );
}

const time = (ms: number) => new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

/**
 * The panel. `jobsVersion` moves on when a `print.job` or `device.changed`
 * notice arrives (or the stream reconnects); the failed jobs are read again then.
 */
export function DevicesPanel({
  api,
  keys,
  role,
  devices,
  devicesError,
  jobsVersion,
  onClose,
  onSent,
  onError,
}: {
  api: Api;
  keys: Idempotency;
  role: Role;
  devices: readonly DeviceView[] | null;
  devicesError: string | null;
  jobsVersion: number;
  onClose: () => void;
  /** A failed job went back into the queue (for the till's toast). */
  onSent: (job: PrintJob, printer: string) => void;
  onError: (e: unknown) => void;
}) {
  const manager = isManager(role);
  const [jobs, setJobs] = useState<PrintJob[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [choosing, setChoosing] = useState<string | null>(null);
  const errorHandler = useRef(onError);
  errorHandler.current = onError;

  // The latest read wins: an older answer arriving late never replaces a newer one.
  useEffect(() => {
    let current = true;
    call(api.GET("/api/v1/print-jobs", { params: { query: { state: "dead", limit: 100 } } }))
      .then((r) => current && setJobs(r.jobs))
      .catch((e) => {
        if (!current) return;
        errorHandler.current(e);
        setError(describe(e));
      });
    return () => {
      current = false;
    };
  }, [api, jobsVersion]);

  const shown = useMemo(
    () =>
      (devices ?? [])
        .filter((d) => d.active)
        .sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name)),
    [devices],
  );
  const printers = shown.filter(isPrinter);
  const name = (id: string) => devices?.find((d) => d.id === id)?.name ?? id;

  /** Sends a failed job again: to `deviceId`, or to its own printer. */
  const resend = async (job: PrintJob, deviceId?: string) => {
    setBusy(job.id);
    setError(null);
    const body = deviceId ? { device_id: deviceId } : {};
    try {
      await keys.run(`reprint:${job.id}`, body, (key) =>
        call(
          api.POST("/api/v1/print-jobs/{id}/reprint", {
            params: { path: { id: job.id }, header: { "Idempotency-Key": key } },
            body,
          }),
        ),
      );
      setJobs((list) => list && list.filter((j) => j.id !== job.id));
      setChoosing(null);
      onSent(job, name(deviceId ?? job.device_id));
    } catch (e) {
      onError(e);
      setError(`${job.label}: ${describe(e)}`);
    } finally {
      setBusy(null);
    }
  };

  return (
    <Modal title="Devices & printing" onClose={onClose}>
      <ErrorBanner error={error ?? devicesError} onDismiss={() => setError(null)} />
      <section className="devices" aria-label="Devices">
        <h3>Devices</h3>
        {devices === null && !devicesError && <p className="muted">Loading…</p>}
        {devices !== null && shown.length === 0 && (
          <p className="muted">No devices are set up. A manager or the installer registers printers and the card terminal.</p>
        )}
        <ul className="device-list">
          {shown.map((d) => {
            const h = healthText(d.health);
            return (
              <li key={d.id} className={`device-row tone-${h.tone}`} data-testid={`device-${d.id}`}>
                <div className="device-name">
                  <strong>{d.name}</strong>
                  <span className="muted">
                    {KIND_NAMES[d.kind] ?? d.kind}
                    {d.station ? ` · station ${d.station}` : ""}
                  </span>
                  {h.detail && (
                    <span className={`device-detail tone-${h.tone}`} data-testid={`device-detail-${d.id}`}>
                      {h.label}: {h.detail}
                    </span>
                  )}
                </div>
                <span className={`state-pill tone-${h.tone}`} data-testid={`device-state-${d.id}`} data-state={d.health.state}>
                  {h.label}
                </span>
                {isPrinter(d) && (
                  <span className="device-queue">
                    <span data-testid={`device-queued-${d.id}`}>{d.queued_jobs} waiting</span>
                    <span className={d.dead_jobs > 0 ? "dead-count" : "muted"} data-testid={`device-dead-${d.id}`}>
                      {d.dead_jobs} failed
                    </span>
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      </section>

      <section className="dead-jobs" aria-label="Failed print jobs">
        <h3>Failed print jobs</h3>
        {jobs === null && !error && <p className="muted">Loading…</p>}
        {jobs !== null && jobs.length === 0 && <p className="muted" data-testid="no-dead-jobs">No failed print jobs.</p>}
        {jobs !== null && jobs.length > 0 && !manager && (
          <p className="muted">A manager can print these again, on the same printer or another one.</p>
        )}
        <ul className="dead-list">
          {jobs?.map((j) => {
            const others = printers.filter((p) => p.id !== j.device_id);
            const ownActive = printers.some((p) => p.id === j.device_id);
            return (
              <li key={j.id} className="dead-row" data-testid={`dead-job-${j.id}`}>
                <div className="dead-info">
                  <strong>{j.label}</strong>
                  <span className="muted">
                    {time(j.created_ms)} · on {name(j.device_id)} · tried {j.attempts}×
                  </span>
                  {j.last_error && <span className="dead-error">{j.last_error}</span>}
                </div>
                {manager && (
                  <div className="dead-actions">
                    <button
                      type="button"
                      data-testid={`reprint-${j.id}`}
                      disabled={busy === j.id || !ownActive}
                      title={ownActive ? undefined : "Its printer was removed: send it to another one"}
                      onClick={() => resend(j)}
                    >
                      Reprint
                    </button>
                    <button
                      type="button"
                      data-testid={`send-to-${j.id}`}
                      aria-expanded={choosing === j.id}
                      disabled={busy === j.id || others.length === 0}
                      title={others.length === 0 ? "No other printer is set up" : undefined}
                      onClick={() => setChoosing((c) => (c === j.id ? null : j.id))}
                    >
                      Send to…
                    </button>
                  </div>
                )}
                {manager && choosing === j.id && (
                  <div className="send-to" role="group" aria-label={`Send ${j.label} to`}>
                    {others.map((p) => {
                      const h = healthText(p.health);
                      return (
                        <button
                          key={p.id}
                          type="button"
                          data-testid={`send-${j.id}-to-${p.id}`}
                          disabled={busy === j.id}
                          onClick={() => resend(j, p.id)}
                        >
                          <strong>{p.name}</strong>
                          <small>
                            {KIND_NAMES[p.kind]} · {h.label}
                          </small>
                        </button>
                      );
                    })}
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      </section>
      <div className="modal-actions">
        <button type="button" className="primary" autoFocus onClick={onClose}>
          Close
        </button>
      </div>
    </Modal>
  );
}
