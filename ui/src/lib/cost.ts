/** Money as the cost pages show it: cents, or finer while a call costs less than a cent. */
export function formatCost(amount: number | null | undefined, currency = "USD"): string {
  if (amount === null || amount === undefined) return "—";
  const digits = amount !== 0 && Math.abs(amount) < 0.01 ? 4 : 2;
  return new Intl.NumberFormat("en-US", {
    style: "currency",
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(amount);
}
