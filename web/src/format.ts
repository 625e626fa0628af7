// Italian formats. Money arrives as decimal strings (the services keep
// Decimal, never float) and is formatted from its digits, so a cent is never
// lost to binary rounding; Intl's it-IT leaves four-digit numbers ungrouped
// ("1234,50"), which Italian invoices do not, hence the grouping by hand.

function group(integer: string): string {
  return integer.replace(/\B(?=(\d{3})+(?!\d))/g, ".");
}

/** "1234.5" -> "1.234,50 €"; "-0.07" -> "-0,07 €". */
export function formatEuro(amount: string | null | undefined): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(amount.trim());
  if (!match) return amount;
  const [, sign, integer = "0", fraction = ""] = match;
  let cents = (fraction + "00").slice(0, 2);
  let whole = integer.replace(/^0+(?=\d)/, "");
  // Round half up on the third decimal (the services already round to the cent).
  if (fraction.length > 2 && Number(fraction[2]) >= 5) {
    const total = (BigInt(whole) * 100n + BigInt(cents) + 1n).toString().padStart(3, "0");
    whole = total.slice(0, -2);
    cents = total.slice(-2);
  }
  const negative = sign === "-" && !(/^0*$/.test(whole) && cents === "00");
  return `${negative ? "-" : ""}${group(whole)},${cents} €`;
}

/** kWh with Italian separators: 1234.5678 -> "1.234,568 kWh" (3 decimals at most). */
export function formatKwh(value: number | string | null | undefined, digits = 3): string {
  if (value === null || value === undefined || value === "") return "—";
  const number = typeof value === "string" ? Number(value) : value;
  if (!Number.isFinite(number)) return "—";
  const fixed = Math.abs(number).toFixed(digits);
  const [integer = "0", fraction = ""] = fixed.split(".");
  const trimmed = fraction.replace(/0+$/, "");
  const sign = number < 0 && Number(fixed) !== 0 ? "-" : "";
  return `${sign}${group(integer)}${trimmed ? "," + trimmed : ""} kWh`;
}

/** kW of power, e.g. "50.00" -> "50 kW". */
export function formatKw(value: string | number | null | undefined): string {
  return formatKwh(value, 2).replace(/ kWh$/, " kW");
}

const ROME = "Europe/Rome";

// Formatters are built once: constructing an Intl.DateTimeFormat costs far
// more than formatting with one (a year of hourly labels took seconds).
const DAY_FORMAT = new Intl.DateTimeFormat("it-IT", { timeZone: ROME, day: "2-digit", month: "2-digit", year: "numeric" });
const DAY_TIME_FORMAT = new Intl.DateTimeFormat("it-IT", {
  timeZone: ROME,
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const ISO_DAY_FORMAT = new Intl.DateTimeFormat("en-CA", { timeZone: ROME, year: "numeric", month: "2-digit", day: "2-digit" });

/** "2025-03-01" or an ISO instant -> "01/03/2025" (the date in Italy). */
export function formatDate(value: string | null | undefined): string {
  if (!value) return "—";
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const [y, m, d] = value.split("-");
    return `${d}/${m}/${y}`;
  }
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) return value;
  return DAY_FORMAT.format(at);
}

/** An ISO instant -> "01/03/2025, 14:05" in Italian time. */
export function formatDateTime(value: string | null | undefined): string {
  if (!value) return "—";
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) return value;
  return DAY_TIME_FORMAT.format(at);
}

/** "2025-03" -> "marzo 2025" (or "March 2025"). */
export function formatMonth(period: string, language = "it"): string {
  const match = /^(\d{4})-(\d{2})$/.exec(period);
  if (!match) return period;
  const at = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 15));
  return new Intl.DateTimeFormat(language === "en" ? "en-GB" : "it-IT", {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  }).format(at);
}

/** Today's date in Italy as YYYY-MM-DD (the day the services count in). */
export function italianToday(now: Date = new Date()): string {
  return ISO_DAY_FORMAT.format(now);
}

/** The UTC offset of Italy at that local date's midnight, e.g. "+01:00". */
export function romeOffset(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  // Noon UTC of that day is in the same offset as its midnight except on the
  // two switch days, where midnight keeps the previous offset: probe 00:30.
  const probe = new Date(Date.UTC(y, m - 1, d, 0, 30));
  const name = new Intl.DateTimeFormat("en-US", { timeZone: ROME, timeZoneName: "longOffset" })
    .formatToParts(probe)
    .find((p) => p.type === "timeZoneName")?.value;
  const offset = name?.replace("GMT", "") || "+00:00";
  return offset === "" ? "+00:00" : offset;
}

/** The start of a local day in Italy as an ISO string with its offset. */
export function romeMidnight(day: string): string {
  return `${day}T00:00:00${romeOffset(day)}`;
}

/** "2025-03" -> ["2025-03-01T00:00:00+01:00", "2025-04-01T00:00:00+02:00"]. */
export function monthBounds(period: string): [string, string] {
  const [y, m] = period.split("-").map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
  return [romeMidnight(`${period}-01`), romeMidnight(`${next}-01`)];
}

/** The day after a YYYY-MM-DD date. */
export function nextDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const at = new Date(Date.UTC(y, m - 1, d + 1));
  return at.toISOString().slice(0, 10);
}
