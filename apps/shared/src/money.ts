// Money is integer minor units everywhere; format only for display.
const formats = new Map<string, Intl.NumberFormat>();

export function formatMoney(minor: number, currency = "USD"): string {
  let f = formats.get(currency);
  if (!f) {
    f = new Intl.NumberFormat(undefined, { style: "currency", currency });
    formats.set(currency, f);
  }
  const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
  return f.format(minor / 10 ** digits);
}

/** Parses "12.5" or "12,50" typed by a cashier into minor units; null when it is not an amount. */
export function parseAmount(text: string, currency = "USD"): number | null {
  const digits = new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  const t = text.trim().replace(",", ".");
  if (!/^\d{1,7}(\.\d{0,3})?$/.test(t)) return null;
  return Math.round(Number(t) * 10 ** digits);
}
