import { type MantineSpacing, Table } from "@mantine/core";
import type { ReactNode } from "react";

/**
 * A table that scrolls sideways inside its own box on a narrow screen rather
 * than widening the page. The box takes the keyboard's focus (tabIndex 0, axe's
 * scrollable-region-focusable) and, given a `label`, says what it holds.
 * `head` is the header row's cells, `children` the body's rows.
 */
export function ScrollTable({
  label,
  minWidth,
  head,
  caption,
  striped = true,
  stickyHeader,
  mah,
  mt,
  children,
}: {
  label?: string;
  minWidth: number;
  head: ReactNode;
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
          <Table.Tr>{head}</Table.Tr>
        </Table.Thead>
        <Table.Tbody>{children}</Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
