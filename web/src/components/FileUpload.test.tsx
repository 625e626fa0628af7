import { cleanup, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { FileUpload } from "./FileUpload";
import { renderInApp } from "./testing";

afterEach(cleanup);

const props = { label: "File", accept: ".xml", onChange: () => undefined, sending: false, submit: "Carica" };

describe("FileUpload", () => {
  it("keeps its submit button off until a file is chosen", () => {
    renderInApp(<FileUpload {...props} file={null} />);
    const send = screen.getByRole("button", { name: "Carica" });
    expect(send.getAttribute("type")).toBe("submit");
    expect(send.hasAttribute("disabled")).toBe(true);
  });

  it("offers a named clear button and the send once a file is chosen", () => {
    renderInApp(<FileUpload {...props} file={new File(["<x/>"], "prezzi.xml")} error="File non valido" />);
    expect(screen.getByRole("button", { name: "Carica" }).hasAttribute("disabled")).toBe(false);
    expect(screen.getByRole("button", { name: "Svuota" })).toBeTruthy();
    expect(screen.getByText("prezzi.xml")).toBeTruthy();
    expect(screen.getByText("File non valido")).toBeTruthy();
  });
});
