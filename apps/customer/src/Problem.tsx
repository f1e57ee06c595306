/** A failure in words, with what the customer can do about it (try again) when there is something. */
export function Problem({ error, onRetry }: { error: string | null; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="notice notice-bad" role="alert">
      {error}{" "}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
