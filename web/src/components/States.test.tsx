import { useQuery } from "@tanstack/react-query";
import { cleanup, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import { QueryView } from "./States";
import { renderInApp } from "./testing";

afterEach(cleanup);

/** A real query whose answer is `answer` (a promise that may never settle). */
function Rows({ answer, draw }: { answer: () => Promise<string[]>; draw: (rows: string[]) => React.ReactNode }) {
  const rows = useQuery({ queryKey: ["rows"], queryFn: answer });
  return (
    <QueryView query={rows} empty="Nessuna riga">
      {draw}
    </QueryView>
  );
}

describe("QueryView", () => {
  it("says it is loading while the query waits, and draws nothing else", () => {
    const draw = vi.fn(() => "righe");
    renderInApp(<Rows answer={() => new Promise(() => undefined)} draw={draw} />);
    expect(screen.getByRole("status").textContent).toBe("Caricamento…");
    expect(draw).not.toHaveBeenCalled();
  });

  it("shows the API's error as an alert", async () => {
    const draw = vi.fn(() => "righe");
    renderInApp(<Rows answer={() => Promise.reject(new ApiError(500, [{ code: "boom", message: "Il servizio non risponde" }]))} draw={draw} />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Il servizio non risponde");
    expect(screen.queryByRole("status")).toBeNull();
    expect(draw).not.toHaveBeenCalled();
  });

  it("shows a 404 as 'not found', not as an error", async () => {
    renderInApp(<Rows answer={() => Promise.reject(new ApiError(404, [{ code: "not_found", message: "missing" }]))} draw={() => "righe"} />);
    await screen.findByRole("heading", { name: "Non trovato" });
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.queryByText("missing")).toBeNull();
  });

  it("shows the empty message when the answer holds nothing", async () => {
    const draw = vi.fn(() => "righe");
    renderInApp(<Rows answer={() => Promise.resolve([])} draw={draw} />);
    await screen.findByText("Nessuna riga");
    expect(draw).not.toHaveBeenCalled();
  });

  it("draws the answer with the children", async () => {
    renderInApp(<Rows answer={() => Promise.resolve(["a", "b"])} draw={(rows) => <ul>{rows.map((r) => <li key={r}>{r}</li>)}</ul>} />);
    expect((await screen.findAllByRole("listitem")).map((li) => li.textContent)).toEqual(["a", "b"]);
    expect(screen.queryByText("Nessuna riga")).toBeNull();
  });

  it("asks isEmpty, when given, rather than the answer's length", async () => {
    function Filtered() {
      const rows = useQuery({ queryKey: ["filtered"], queryFn: () => Promise.resolve(["a", "c"]) });
      return (
        <QueryView query={rows} isEmpty={(r) => !r.includes("b")} empty="Nessuna b">
          {(r) => r.join(",")}
        </QueryView>
      );
    }
    renderInApp(<Filtered />);
    await screen.findByText("Nessuna b");
    expect(screen.queryByText("a,c")).toBeNull();
  });

  it("without an empty message draws an empty answer too", async () => {
    function Plain() {
      const rows = useQuery({ queryKey: ["plain"], queryFn: () => Promise.resolve<string[]>([]) });
      return <QueryView query={rows}>{(r) => `${r.length} righe`}</QueryView>;
    }
    renderInApp(<Plain />);
    await screen.findByText("0 righe");
  });
});
