// A manager's approval at the till: the manager picks their name and enters
// their PIN, and the till gets a two-minute session of theirs to send as
// `X-Manager-Approval` with the one action it approves (a cashier's discount,
// cancelling a paid order), then signs it out. The node checks the approval
// again; this only collects it.
import { useEffect, useState } from "react";
import { type Api, ErrorBanner, PinPad, type Role, type StaffView, call, describe } from "@edge/shared";
import { isManager } from "./model";

export interface Approval {
  token: string;
  managerName: string;
}

const APPROVER_ROLES: Role[] = ["manager", "owner"];
/** Long enough for one action at the till; the node ends the session itself after it. */
const APPROVAL_SECS = 120;

/** Signs an approval session out once it has been used (or not). */
export function endApproval(api: Api, approval: Approval | null | undefined) {
  if (!approval) return;
  // Not through onError: a 401 here is about the manager's token, not this till's session.
  // If it fails the token expires by itself within two minutes.
  call(api.POST("/api/v1/auth/logout", { headers: { Authorization: `Bearer ${approval.token}` } })).catch(() => undefined);
}

/** The manager list, then the chosen manager's PIN pad. `action` says what they approve ("approve discounts"). */
export function ManagerApproval({ api, action, onApproved }: { api: Api; action: string; onApproved: (a: Approval) => void }) {
  const [managers, setManagers] = useState<StaffView[] | null>(null);
  const [manager, setManager] = useState<StaffView | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    call(api.GET("/api/v1/auth/staff"))
      .then((r) => setManagers(r.staff.filter((s) => APPROVER_ROLES.includes(s.role))))
      .catch((e) => setError(describe(e)));
  }, [api]);

  // A wrong manager PIN is a 401 for the manager, not for the signed-in cashier: shown here, never a sign-out.
  const approve = async (pin: string) => {
    if (!manager) return;
    setBusy(true);
    setError(null);
    try {
      const r = await call(api.POST("/api/v1/auth/login", { body: { staff_id: manager.id, pin, ttl_secs: APPROVAL_SECS } }));
      if (!isManager(r.staff.role)) {
        endApproval(api, { token: r.token, managerName: r.staff.name });
        setError(`${r.staff.name} cannot ${action}. Ask a manager.`);
        return;
      }
      onApproved({ token: r.token, managerName: r.staff.name });
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {!manager ? (
        <div className="staff-grid">
          {managers === null && !error && <p>Loading managers…</p>}
          {managers?.length === 0 && <p>No manager can sign in at this store.</p>}
          {managers?.map((m) => (
            <button key={m.id} type="button" className="staff-tile" onClick={() => setManager(m)}>
              <strong>{m.name}</strong>
              <span>{m.role}</span>
            </button>
          ))}
        </div>
      ) : (
        <div className="approve-pin">
          <p>
            <strong>{manager.name}</strong>, enter your PIN to approve.{" "}
            <button type="button" className="link" onClick={() => setManager(null)}>
              someone else?
            </button>
          </p>
          <PinPad onSubmit={approve} busy={busy} />
        </div>
      )}
    </>
  );
}
