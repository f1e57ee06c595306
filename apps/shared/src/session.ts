// A signed-in staff session, kept per app in localStorage so a reload keeps
// the till signed in until the session expires.
import { useCallback, useMemo, useState } from "react";
import { type Api, ApiError, type StaffView, call, createApi } from "./api";

export interface Session {
  token: string;
  staff: StaffView;
  expires_ms: number;
}

function load(app: string): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(`edge.${app}.session`) ?? "null") as Session | null;
    return s && s.expires_ms > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function useSession(app: string) {
  const [session, setSession] = useState<Session | null>(() => load(app));
  const tokenRef = useMemo(() => ({ current: session?.token ?? null }), []); // eslint-disable-line react-hooks/exhaustive-deps
  tokenRef.current = session?.token ?? null;
  const api: Api = useMemo(() => createApi(() => tokenRef.current), [tokenRef]);

  const signIn = useCallback(
    async (staffId: string, pin: string) => {
      const r = await call(api.POST("/api/v1/auth/login", { body: { staff_id: staffId, pin } }));
      const s: Session = { token: r.token, staff: r.staff, expires_ms: r.expires_ms };
      localStorage.setItem(`edge.${app}.session`, JSON.stringify(s));
      tokenRef.current = s.token;
      setSession(s);
      return s;
    },
    [api, app, tokenRef],
  );

  const signOut = useCallback(async () => {
    try {
      await call(api.POST("/api/v1/auth/logout"));
    } catch {
      // Signed out locally either way.
    }
    localStorage.removeItem(`edge.${app}.session`);
    tokenRef.current = null;
    setSession(null);
  }, [api, app, tokenRef]);

  /** Call on any error: a 401 means the session is gone, so show the sign-in screen. */
  const onError = useCallback(
    (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) {
        localStorage.removeItem(`edge.${app}.session`);
        setSession(null);
      }
    },
    [app],
  );

  return { session, api, signIn, signOut, onError };
}
