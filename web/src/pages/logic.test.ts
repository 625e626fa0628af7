import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { offlineFirst } from "./DevicesPage";
import { safeNext } from "./LoginPage";
import { centsToDecimal } from "./SettlementsPage";

describe("safeNext", () => {
  it("keeps a path of the app and refuses anything that leaves it", () => {
    expect(safeNext("/cer/3/settlements")).toBe("/cer/3/settlements");
    expect(safeNext("//evil.example/")).toBe("/");
    expect(safeNext("https://evil.example/")).toBe("/");
    expect(safeNext("/\\evil.example")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });
});

describe("offlineFirst", () => {
  it("puts offline devices first, then errors, then online, by id within each", () => {
    const sorted = offlineFirst([
      { device_id: "b", status: "ONLINE" },
      { device_id: "z", status: "OFFLINE" },
      { device_id: "a", status: "ONLINE" },
      { device_id: "e", status: "ERROR" },
      { device_id: "c", status: "OFFLINE" },
      { device_id: "0", status: "OFFLINE", revoked: true },
    ]);
    expect(sorted.map((d) => d.device_id)).toEqual(["c", "z", "e", "a", "b", "0"]);
  });
});

describe("centsToDecimal", () => {
  it("turns integer cents into a decimal string without floats", () => {
    expect(centsToDecimal(123456)).toBe("1234.56");
    expect(centsToDecimal(-7)).toBe("-0.07");
    expect(centsToDecimal(0)).toBe("0.00");
  });
});

describe("ApiError", () => {
  it("finds the error for a field, also when the API names it with its location", () => {
    const error = new ApiError(422, [
      { code: "invalid", message: "bad id", field: "body.device_id", expected: "letters, digits, -" },
      { code: "conflict", message: "taken" },
    ]);
    expect(error.forField("device_id")?.message).toBe("bad id");
    expect(error.forField("model")).toBeUndefined();
    expect(error.general(["device_id"]).map((e) => e.message)).toEqual(["taken"]);
  });
});

describe("yearRanges", () => {
  it("covers the year in contiguous ranges the API accepts (at most 92 days each)", async () => {
    const { yearRanges } = await import("./EnergyPage");
    const quarters = yearRanges("2026");
    expect(quarters[0]![0]).toBe("2026-01-01T00:00:00+01:00");
    expect(quarters.at(-1)![1]).toBe("2027-01-01T00:00:00+01:00");
    expect(quarters[2]![0]).toBe("2026-05-01T00:00:00+02:00");
    for (let i = 0; i < quarters.length; i += 1) {
      const [from, to] = quarters[i]!;
      expect((Date.parse(to) - Date.parse(from)) / 86_400_000).toBeLessThanOrEqual(92);
      if (i > 0) expect(from).toBe(quarters[i - 1]![1]);
    }
  });
});
