import { Badge } from "@mantine/core";
import { cleanup, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Section } from "./Section";
import { renderInApp } from "./testing";

afterEach(cleanup);

describe("Section", () => {
  it("is a region named by its h3 title", () => {
    renderInApp(<Section title="Distinte di pagamento">contenuto</Section>);
    const region = screen.getByRole("region", { name: "Distinte di pagamento" });
    const heading = screen.getByRole("heading", { level: 3, name: "Distinte di pagamento" });
    expect(region.contains(heading)).toBe(true);
    expect(region.getAttribute("aria-labelledby")).toBe(heading.id);
    expect(region.textContent).toContain("contenuto");
  });

  it("makes a distinct id for each section, or keeps the one given", () => {
    renderInApp(
      <>
        <Section title="Primo">a</Section>
        <Section title="Secondo" id="second-title">
          b
        </Section>
      </>,
    );
    const first = screen.getByRole("heading", { name: "Primo" });
    const second = screen.getByRole("heading", { name: "Secondo" });
    expect(second.id).toBe("second-title");
    expect(first.id).not.toBe("");
    expect(first.id).not.toBe(second.id);
    expect(screen.getByRole("region", { name: "Primo" }).textContent).toBe("Primoa");
  });

  it("keeps the actions beside the title out of the section's name", () => {
    renderInApp(
      <Section title="Confronto" actions={<Badge data-testid="status">Coincide</Badge>}>
        righe
      </Section>,
    );
    const region = screen.getByRole("region", { name: "Confronto" });
    expect(region.contains(screen.getByTestId("status"))).toBe(true);
    expect(screen.getByRole("heading", { level: 3 }).textContent).toBe("Confronto");
  });

  it("is one form when given onSubmit, and the page is not reloaded", () => {
    const submitted = vi.fn();
    renderInApp(
      <Section title="Invita" onSubmit={submitted}>
        <button type="submit">Invia</button>
      </Section>,
    );
    const form = screen.getByRole("region", { name: "Invita" }).querySelector("form");
    expect(form).not.toBeNull();
    // dispatchEvent answers false when the default was prevented.
    expect(fireEvent.submit(form!)).toBe(false);
    expect(submitted).toHaveBeenCalledTimes(1);
  });

  it("has no form without onSubmit", () => {
    renderInApp(<Section title="Oggi">x</Section>);
    expect(screen.getByRole("region", { name: "Oggi" }).querySelector("form")).toBeNull();
  });

  it("stacks the content by default; 'tight' and 'flush' put it straight under the title", () => {
    renderInApp(
      <>
        <Section title="Impilata">a</Section>
        <Section title="Stretta" layout="tight">
          b
        </Section>
        <Section title="Aderente" layout="flush">
          c
        </Section>
      </>,
    );
    const parentOf = (name: string) => screen.getByRole("heading", { name }).parentElement!;
    expect(parentOf("Impilata").className).toContain("mantine-Stack-root");
    expect(parentOf("Stretta").tagName).toBe("SECTION");
    expect(parentOf("Aderente").tagName).toBe("SECTION");
    // 'tight' leaves the small space below the title, 'flush' none.
    expect(screen.getByRole("heading", { name: "Stretta" }).getAttribute("style") ?? "").toContain("margin-bottom");
    expect(screen.getByRole("heading", { name: "Aderente" }).getAttribute("style") ?? "").not.toContain("margin-bottom");
  });
});
