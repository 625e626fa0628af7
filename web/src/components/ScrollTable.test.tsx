import { Table } from "@mantine/core";
import { cleanup, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { ScrollTable } from "./ScrollTable";
import { renderInApp } from "./testing";

afterEach(cleanup);

describe("ScrollTable", () => {
  it("scrolls in a box the keyboard can reach, named by its label", () => {
    renderInApp(
      <ScrollTable label="Distinte" minWidth={680} columns={["Mese", { label: "Totale", numeric: true }]}>
        <Table.Tr data-testid="row">
          <Table.Td>luglio 2025</Table.Td>
          <Table.Td className="num">12,34 €</Table.Td>
        </Table.Tr>
      </ScrollTable>,
    );
    const box = screen.getByLabelText("Distinte");
    expect(box.getAttribute("tabindex")).toBe("0");
    const table = within(box).getByRole("table");
    // The header row in the head, the given rows in the body.
    expect(table.querySelector("thead tr")?.children.length).toBe(2);
    expect(table.querySelector("tbody")?.contains(screen.getByTestId("row"))).toBe(true);
    expect(screen.getByTestId("row").getAttribute("data-striped")).toBe("odd");
  });

  it("makes each column a column header; numeric ones right-aligned, hidden ones for screen readers, false ones left out", () => {
    renderInApp(
      <ScrollTable minWidth={520} columns={["Mese", { label: "Totale", numeric: true }, false, null, { label: "Azioni", hidden: true }]}>
        <Table.Tr>
          <Table.Td>a</Table.Td>
          <Table.Td>b</Table.Td>
          <Table.Td>c</Table.Td>
        </Table.Tr>
      </ScrollTable>,
    );
    const headers = screen.getAllByRole("columnheader");
    expect(headers.map((th) => th.textContent)).toEqual(["Mese", "Totale", "Azioni"]);
    expect(headers.map((th) => th.getAttribute("scope"))).toEqual(["col", "col", "col"]);
    expect(headers[0]!.classList.contains("num")).toBe(false);
    expect(headers[1]!.classList.contains("num")).toBe(true);
    expect(headers[2]!.querySelector("span.skip-link")?.textContent).toBe("Azioni");
    expect(headers[1]!.querySelector("span.skip-link")).toBeNull();
  });

  it("has no name when given no label, but still takes the focus", () => {
    const { container } = renderInApp(
      <ScrollTable minWidth={520} columns={["Mese"]} striped={false} caption="Come si calcola">
        <Table.Tr>
          <Table.Td>a</Table.Td>
        </Table.Tr>
      </ScrollTable>,
    );
    const box = container.querySelector("[tabindex='0']")!;
    expect(box.hasAttribute("aria-label")).toBe(false);
    const table = within(box as HTMLElement).getByRole("table");
    expect(table.querySelector("tbody tr")?.hasAttribute("data-striped")).toBe(false);
    expect(table.querySelector("caption")?.textContent).toBe("Come si calcola");
  });
});
