// Sign up or sign in, inline where it is needed (checkout, an order's page):
// never a dead end, and the password reset said honestly.
import { useState } from "react";
import { api, hub, keepSession, words } from "./hub";

export function AuthForm({ intro }: { intro?: string }) {
  const [mode, setMode] = useState<"signup" | "login">("signup");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [forgot, setForgot] = useState(false);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const address = email.trim();
      const pair =
        mode === "signup"
          ? await hub(() => api.POST("/api/v1/auth/signup", { body: { email: address, password, name: name.trim() } }))
          : await hub(() => api.POST("/api/v1/auth/login", { body: { email: address, password } }));
      keepSession(address, pair);
    } catch (err) {
      setError(words(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="auth" aria-labelledby="auth-title">
      <h2 id="auth-title">{mode === "signup" ? "Create an account" : "Sign in"}</h2>
      {intro && <p>{intro}</p>}
      <form onSubmit={submit} className="form">
        {mode === "signup" && (
          <label>
            Your name (we call it at the counter)
            <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" required maxLength={60} />
          </label>
        )}
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" required />
        </label>
        <label>
          Password{mode === "signup" ? " (at least 10 characters)" : ""}
          <input
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete={mode === "signup" ? "new-password" : "current-password"}
            required
          />
        </label>
        {error && (
          <p className="notice notice-bad" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "One moment…" : mode === "signup" ? "Create account" : "Sign in"}
        </button>
      </form>
      <p>
        {mode === "signup" ? "Already have an account? " : "New here? "}
        <button type="button" className="link" onClick={() => (setMode(mode === "signup" ? "login" : "signup"), setError(null))}>
          {mode === "signup" ? "Sign in" : "Create an account"}
        </button>
      </p>
      {mode === "login" && (
        <p>
          <button type="button" className="link" onClick={() => setForgot(true)}>
            Forgot your password?
          </button>
          {forgot && (
            <span role="status">
              {" "}
              Resetting a password by email is not available yet. Ask the store to help, or create a new account.
            </span>
          )}
        </p>
      )}
    </section>
  );
}
