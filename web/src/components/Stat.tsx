import { Paper, SimpleGrid, Text } from "@mantine/core";

export function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Paper withBorder p="md" radius="md">
      <Text size="sm" c="dimmed" component="div">
        {label}
      </Text>
      <Text size="xl" fw={700} className="num" ta="left" data-testid={testId}>
        {value}
      </Text>
    </Paper>
  );
}

export function Stats({ children }: { children: React.ReactNode }) {
  return (
    <SimpleGrid cols={{ base: 2, md: 4 }} spacing="md">
      {children}
    </SimpleGrid>
  );
}
