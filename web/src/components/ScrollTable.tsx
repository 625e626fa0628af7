import { type MantineSpacing, Table } from "@mantine/core";
import type { ReactNode } from "react";

/**
 * A header cell: its words, or the words with `numeric` (right-aligned over
 * figures) or `hidden` (for screen readers only: a column of buttons).
 */
export type Column = string | { label: string; numeric?: boolean; hidden?: boolean };

/**
 * A table that scrolls sideways inside its own box on a narrow screen rather
 * than widening the page. The box takes the keyboard's focus (tabIndex 0, axe's
 * scrollable-region-focusable) and, given a `label`, says what it holds.
 * `columns` make the header row (each a column header; a false or null one is
 * left out), `children` are the body's rows.
 */
export function ScrollTable({
  label,
  minWidth,
  columns,
  caption,
  striped = true,
  stickyHeader,
  mah,
  mt,
  children,
}: {
  label?: string;
  minWidth: number;
  columns: readonly (Column | false | null | undefined)[];
  caption?: ReactNode;
  striped?: boolean;
  /** The header stays in view while the box scrolls (with `mah`). */
  stickyHeader?: boolean;
  mah?: number;
  mt?: MantineSpacing;
  children: ReactNode;
}) {
  return (
    <Table.ScrollContainer minWidth={minWidth} type="native" tabIndex={0} aria-label={label} mah={mah} mt={mt}>
      <Table striped={striped} stickyHeader={stickyHeader}>
        {caption && <Table.Caption>{caption}</Table.Caption>}
        <Table.Thead>
          <Table.Tr>
            {columns.map((column, i) => {
              if (!column) return null;
              const { label: words, numeric, hidden } = typeof column === "string" ? { label: column } : column;
              return (
                <Table.Th key={i} scope="col" className={numeric ? "num" : undefined}>
                  {hidden ? <span className="skip-link">{words}</span> : words}
                </Table.Th>
              );
            })}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>{children}</Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
