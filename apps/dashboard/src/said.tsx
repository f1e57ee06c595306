// How the dashboard's pages speak after an action: what went wrong (an alert,
// read out at once) and what was done (a status line), in words, and a page
// that could not load with a way to try again.

/** The last action's outcome: `error` as an alert, `note` as a status line; nothing when neither. */
export function Said({ error, note }: { error?: string | null; note?: string | null }) {
  return (
    <>
      {error && (
        <p className="problem" role="alert">
          {error}
        </p>
      )}
      {note && (
        <p className="note" role="status">
          {note}
        </p>
      )}
    </>
  );
}

/** A page that could not load: why, and "Try again". */
export function Problem({ text, retry }: { text: string; retry: () => void }) {
  return (
    <div className="problem" role="alert">
      <p>{text}</p>
      <button type="button" onClick={retry}>
        Try again
      </button>
    </div>
  );
}
