import { describe, expect, it } from "vitest";
import { centsText, dispositionName, figure, formatBytes, formatPrice, owedToMembers, previousMonth, priceSummary, sortParameters, sumEuro } from "./logic";

describe("sumEuro", () => {
  it("adds decimal strings exactly, where floats would drift", () => {
    // 0.1 + 0.2 in floats is 0.30000000000000004; ten of 0.10 is 0.9999999999999999.
    expect(sumEuro(["0.1", "0.2"])).toBe("0.30");
    expect(sumEuro(Array(10).fill("0.10"))).toBe("1.00");
    expect(sumEuro(["1234.56", "-0.57", "12", null, undefined])).toBe("1245.99");
    expect(sumEuro(["-5.00", "2.50"])).toBe("-2.50");
    expect(sumEuro(["12.340000"])).toBe("12.34");
  });
  it("refuses what is not an amount to the cent", () => {
    expect(() => sumEuro(["1.005"])).toThrow(/to the cent/);
    expect(() => sumEuro(["1,50"])).toThrow();
  });
});

describe("centsText", () => {
  it("turns integer cents into a decimal string", () => {
    expect(centsText(0)).toBe("0.00");
    expect(centsText(7)).toBe("0.07");
    expect(centsText(-7)).toBe("-0.07");
    expect(centsText(123456789n)).toBe("1234567.89");
  });
});

describe("owedToMembers", () => {
  it("sums the positive member amounts of a run (what a payout pays)", () => {
    const run = { members: [{ eur: "10.10" }, { eur: "0.00" }, { eur: "-3.00" }, { eur: "5.25" }] };
    expect(owedToMembers(run)).toBe("15.35");
    expect(owedToMembers({ members: [] })).toBe("0.00");
  });
});

describe("formats", () => {
  it("names the downloaded file as the service does", () => {
    expect(dispositionName('attachment; filename="abc123.xml"', "x.xml")).toBe("abc123.xml");
    expect(dispositionName(null, "fallback.pdf")).toBe("fallback.pdf");
  });
  it("shows a compared figure in its unit", () => {
    expect(figure("total_eur", "1234.5")).toBe("1.234,50 €");
    expect(figure("shared_energy_kwh", "1234.5")).toBe("1.234,5 kWh");
    expect(figure("total_eur", null)).toBe("—");
  });
  it("prices in €/MWh with two decimals, rounded half up from the digits", () => {
    expect(formatPrice("123.456789")).toBe("123,46");
    expect(formatPrice("1234.5")).toBe("1.234,50");
    expect(formatPrice("-0.004")).toBe("0,00");
    expect(formatPrice("-12.345")).toBe("-12,35");
  });
  it("sizes and months", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1,5 kB");
    expect(previousMonth("2026-01-15")).toBe("2025-12");
    expect(previousMonth("2026-12-05")).toBe("2026-11");
  });
});

describe("priceSummary", () => {
  it("gives the exact mean, lowest and highest", () => {
    expect(priceSummary([])).toBeNull();
    const s = priceSummary(["100.000000", "110.5", "90.25"]);
    expect(s).toEqual({ mean: "100.250000", min: "90.250000", max: "110.500000" });
    // The mean rounds half up in millionths: (1 + 2) / 2 = 1.5 millionths -> 2.
    expect(priceSummary(["0.000001", "0.000002"])?.mean).toBe("0.000002");
    expect(priceSummary(["-5", "5"])).toEqual({ mean: "0.000000", min: "-5.000000", max: "5.000000" });
  });
});

describe("sortParameters", () => {
  it("orders power classes as numbers, not as text", () => {
    const rows = ["1000", "20", "600", "200"].map((key) => ({ name: "max_eligible_cost_eur_per_kw", key, valid_from: "2021-12-16" }));
    rows.push({ name: "trase_eur_mwh", key: "", valid_from: "2025-01-01" }, { name: "trase_eur_mwh", key: "", valid_from: "2024-01-01" });
    expect(sortParameters(rows).map((r) => r.key || r.valid_from)).toEqual(["20", "200", "600", "1000", "2024-01-01", "2025-01-01"]);
  });
});
