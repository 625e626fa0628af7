import { describe, expect, it } from "vitest";
import { formatDate, formatEuro, formatKwh, formatMonth, monthBounds, nextDay, romeMidnight } from "./format";

describe("formatEuro", () => {
  it("groups thousands with dots and keeps the cents from the digits", () => {
    expect(formatEuro("1234.5")).toBe("1.234,50 €");
    expect(formatEuro("1234567.89")).toBe("1.234.567,89 €");
    expect(formatEuro("0.1")).toBe("0,10 €");
    expect(formatEuro("12")).toBe("12,00 €");
  });
  it("keeps negatives and rounds a third decimal half up", () => {
    expect(formatEuro("-0.07")).toBe("-0,07 €");
    expect(formatEuro("2.345")).toBe("2,35 €");
    expect(formatEuro("9.995")).toBe("10,00 €");
    expect(formatEuro("-0.001")).toBe("0,00 €");
  });
  it("shows a dash for missing amounts", () => {
    expect(formatEuro(null)).toBe("—");
  });
});

describe("formatKwh", () => {
  it("uses the Italian separators and at most three decimals", () => {
    expect(formatKwh(1234.5678)).toBe("1.234,568 kWh");
    expect(formatKwh(0)).toBe("0 kWh");
    expect(formatKwh("12.5")).toBe("12,5 kWh");
  });
});

describe("dates in Italy", () => {
  it("formats days as dd/mm/yyyy in Rome's time", () => {
    expect(formatDate("2025-03-01")).toBe("01/03/2025");
    // 23:30 UTC on 31 March is already 1 April in Italy (summer time).
    expect(formatDate("2025-03-31T23:30:00Z")).toBe("01/04/2025");
  });
  it("bounds a month with each end's own offset (summer time starts in March)", () => {
    expect(monthBounds("2025-03")).toEqual(["2025-03-01T00:00:00+01:00", "2025-04-01T00:00:00+02:00"]);
    expect(monthBounds("2025-12")).toEqual(["2025-12-01T00:00:00+01:00", "2026-01-01T00:00:00+01:00"]);
    expect(romeMidnight("2025-10-26")).toBe("2025-10-26T00:00:00+02:00");
  });
  it("names months in Italian by default", () => {
    expect(formatMonth("2025-03")).toBe("marzo 2025");
    expect(formatMonth("2025-03", "en")).toBe("March 2025");
    expect(nextDay("2025-02-28")).toBe("2025-03-01");
  });
});
