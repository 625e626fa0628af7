import { Group, Paper, Stack, Title } from "@mantine/core";
import { type ReactNode, useId } from "react";

/**
 * How the content stands under the title: in a Stack (the title and every
 * child `md` apart), straight under it with `sm` below the title ("tight"), or
 * straight under it with no space ("flush"). The pages had all three; each
 * keeps its look.
 */
export type SectionLayout = "stack" | "tight" | "flush";

/**
 * A page's card: a `<section>` named by its heading (an h3 drawn as h4), so a
 * screen reader lists it as a region with the title's words. `actions` stand
 * at the end of the title's line (a status badge); with `onSubmit` the whole
 * card is one form (the submit event's default is prevented).
 */
export function Section({
  title,
  id,
  actions,
  onSubmit,
  layout = "stack",
  children,
}: {
  title: ReactNode;
  /** The heading's id; one is made with useId when none is given. */
  id?: string;
  actions?: ReactNode;
  onSubmit?: () => void;
  layout?: SectionLayout;
  children?: ReactNode;
}) {
  const made = useId();
  const titleId = id ?? made;
  const below = layout === "tight" ? "sm" : undefined;
  const heading = (
    <Title order={3} size="h4" id={titleId} mb={actions ? undefined : below}>
      {title}
    </Title>
  );
  const header = actions ? (
    <Group justify="space-between" mb={below}>
      {heading}
      {actions}
    </Group>
  ) : (
    heading
  );
  const body =
    layout === "stack" ? (
      <Stack>
        {header}
        {children}
      </Stack>
    ) : (
      <>
        {header}
        {children}
      </>
    );
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby={titleId}>
      {onSubmit ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            onSubmit();
          }}
        >
          {body}
        </form>
      ) : (
        body
      )}
    </Paper>
  );
}
