// The money pages' arithmetic and formats, pure (unit-tested in logic.test.ts).
// Money stays in decimal strings or integer cents (BigInt): never a float.
import { formatEuro, formatKwh } from "../format";

/** The file name a Content-Disposition header gives, or the fallback. */
export function dispositionName(header: string | null, fallback: string): string {
  const match = header ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header) : null;
  return match?.[1] ? decodeURIComponent(match[1]) : fallback;
}

/** Decimal euro strings ("12.34", "-0.5") summed exactly, as a "12.34" string. */
export function sumEuro(amounts: readonly (string | null | undefined)[]): string {
  let cents = 0n;
  for (const amount of amounts) {
    if (!amount) continue;
    const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(amount.trim());
    const fraction = match?.[3] ?? "";
    // Amounts are to the cent; a digit beyond it would be lost, so it is refused.
    if (!match || /[1-9]/.test(fraction.slice(2))) throw new Error(`not a euro amount to the cent: ${amount}`);
    const value = BigInt(match[2] ?? "0") * 100n + BigInt(fraction.slice(0, 2).padEnd(2, "0"));
    cents += match[1] ? -value : value;
  }
  return centsText(cents);
}

/** Integer cents (number or bigint) as "12.34" for formatEuro, without floats. */
export function centsText(cents: number | bigint): string {
  const value = BigInt(cents);
  const abs = value < 0n ? -value : value;
  return `${value < 0n ? "-" : ""}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

/** A file size in Italian: 1536 -> "1,5 kB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "—";
  if (bytes < 1024) return `${bytes} B`;
  const kb = bytes / 1024;
  if (kb < 1024) return `${kb.toFixed(1).replace(".", ",")} kB`;
  return `${(kb / 1024).toFixed(1).replace(".", ",")} MB`;
}

/** The month before today's in Italy, as YYYY-MM. */
export function previousMonth(today: string): string {
  const [y, m] = today.slice(0, 7).split("-").map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

/** What an approved (FINAL) run owes its members: the positive amounts, exactly. */
export function owedToMembers(run: { members?: readonly { eur: string }[] | null }): string {
  return sumEuro((run.members ?? []).map((m) => m.eur).filter((eur) => !eur.startsWith("-")));
}

/** A compared figure in its unit: euros for *_eur, kWh for *_kwh. */
export function figure(field: string, value: string | null): string {
  if (value === null || value === undefined) return "—";
  return field.endsWith("_eur") ? formatEuro(value) : formatKwh(value);
}

/** "123.456789" -> "123,46" (€/MWh, two decimals, Italian comma), from the digits. */
export function formatPrice(value: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return value;
  const [, sign = "", integer = "0", fraction = ""] = match;
  let cents = BigInt(integer) * 100n + BigInt((fraction + "00").slice(0, 2));
  if (fraction.length > 2 && Number(fraction[2]) >= 5) cents += 1n;
  const whole = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  return `${sign && cents ? "-" : ""}${whole},${String(cents % 100n).padStart(2, "0")}`;
}

/** The mean, lowest and highest of decimal prices, exact to the cent of €/MWh. */
export function priceSummary(values: readonly string[]): { mean: string; min: string; max: string } | null {
  if (values.length === 0) return null;
  // Millionths as integers: the prices have at most six decimals.
  const micros = values.map((v) => {
    const [i = "0", f = ""] = v.replace("-", "").split(".");
    const n = BigInt(i) * 1_000_000n + BigInt((f + "000000").slice(0, 6));
    return v.startsWith("-") ? -n : n;
  });
  const text = (n: bigint) => {
    const abs = n < 0n ? -n : n;
    return `${n < 0n ? "-" : ""}${abs / 1_000_000n}.${String(abs % 1_000_000n).padStart(6, "0")}`;
  };
  const total = micros.reduce((a, b) => a + b, 0n);
  const count = BigInt(micros.length);
  const mean = (total * 2n + count) / (2n * count); // half up, in millionths
  return {
    mean: text(mean),
    min: text(micros.reduce((a, b) => (b < a ? b : a))),
    max: text(micros.reduce((a, b) => (b > a ? b : a))),
  };
}


/** Parameters by name, then power class as a number (20, 200, 600, 1000 kW), then date. */
export function sortParameters<T extends { name: string; key: string; valid_from: string }>(rows: readonly T[]): T[] {
  return [...rows].sort(
    (a, b) =>
      a.name.localeCompare(b.name) ||
      (Number(a.key) || 0) - (Number(b.key) || 0) ||
      a.key.localeCompare(b.key) ||
      a.valid_from.localeCompare(b.valid_from),
  );
}
