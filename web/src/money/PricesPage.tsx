import { Group, NativeSelect, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { economicApi, unwrap } from "../api/client";
import type { components } from "../api/generated/economic";
import { useMe } from "../api/hooks";
import { FileUpload } from "../components/FileUpload";
import { ScrollTable } from "../components/ScrollTable";
import { Section } from "../components/Section";
import { Stat } from "../components/Stat";
import { FormErrors, QueryView, fieldError } from "../components/States";
import { formatDate, formatDateTime, italianToday } from "../format";
import { uploadForm } from "./api";
import { formatPrice, priceSummary, sortParameters } from "./logic";
import "./strings";

type Zone = components["schemas"]["MarketZone"];
type PriceImport = components["schemas"]["PriceImportOut"];
const ZONES: Zone[] = ["NORD", "CNOR", "CSUD", "SUD", "CALA", "SICI", "SARD"];

export default function PricesPage() {
  const { t } = useTranslation(undefined, { keyPrefix: "money.prices" });
  const me = useMe();
  return (
    <Stack>
      <Title order={2}>{t("title")}</Title>
      <Parameters />
      <Prices />
      {me.data?.user_type === "ADMIN" && <PriceImports />}
    </Stack>
  );
}

function Parameters() {
  const { t } = useTranslation(undefined, { keyPrefix: "money.prices" });
  const parameters = useQuery({
    queryKey: ["parameters"],
    queryFn: () => unwrap(economicApi.GET("/api/economic/parameters/")),
  });
  return (
    <Section title={t("parametersTitle")}>
      <QueryView query={parameters} empty={t("parametersEmpty")}>
        {(rows) => (
          <ScrollTable
            label={t("parametersTitle")}
            minWidth={640}
            columns={[t("name"), t("key"), t("validFrom"), { label: t("value"), numeric: true }, t("source"), t("origin")]}
          >
            {sortParameters(rows).map((p) => (
              <Table.Tr key={`${p.name}/${p.key}/${p.valid_from}`} data-testid="parameter-row">
                <Table.Td>{t(`names.${p.name}`, p.name)}</Table.Td>
                <Table.Td>{p.key ? t("powerClass", { kw: p.key }) : "—"}</Table.Td>
                <Table.Td>{formatDate(p.valid_from)}</Table.Td>
                <Table.Td className="num">{formatPrice(p.value)}</Table.Td>
                <Table.Td>{p.source}</Table.Td>
                <Table.Td>{t(`origins.${p.origin}`, p.origin)}</Table.Td>
              </Table.Tr>
            ))}
          </ScrollTable>
        )}
      </QueryView>
    </Section>
  );
}

function Prices() {
  const { t } = useTranslation(undefined, { keyPrefix: "money.prices" });
  const [day, setDay] = useState(italianToday());
  const [zone, setZone] = useState<Zone>("NORD");
  const valid = /^\d{4}-\d{2}-\d{2}$/.test(day);
  const prices = useQuery({
    queryKey: ["prices", day, zone],
    enabled: valid,
    queryFn: () =>
      unwrap(economicApi.GET("/api/economic/prices/", { params: { query: { from: day, to: day, zone, resolution: "hour", per_page: 100 } } })),
  });
  const summary = priceSummary((prices.data ?? []).map((p) => p.eur_mwh));
  return (
    <Section title={t("pricesTitle")}>
      <Group align="end">
        <TextInput type="date" label={t("day")} value={day} onChange={(e) => setDay(e.currentTarget.value)} error={fieldError(prices.error, "from")} />
        <NativeSelect label={t("zone")} value={zone} onChange={(e) => setZone(e.currentTarget.value as Zone)} data={ZONES} />
      </Group>
      {/* The summary is null exactly when there is no price. */}
      {valid && (
        <QueryView query={prices} isEmpty={() => !summary} empty={t("pricesEmpty")}>
          {(rows) =>
            summary && (
              <>
                <SimpleGrid cols={{ base: 1, xs: 3 }}>
                  <Stat label={`${t("average")} (${t("price")})`} value={formatPrice(summary.mean)} testId="price-mean" />
                  <Stat label={`${t("min")} (${t("price")})`} value={formatPrice(summary.min)} />
                  <Stat label={`${t("max")} (${t("price")})`} value={formatPrice(summary.max)} />
                </SimpleGrid>
                <ScrollTable
                  label={t("pricesTitle")}
                  minWidth={360}
                  mah={420}
                  stickyHeader
                  columns={[t("hour"), { label: t("price"), numeric: true }, t("source")]}
                >
                  {rows.map((p) => (
                    <Table.Tr key={p.start_utc} data-testid="price-row">
                      {/* The local hour as the service gives it (with its offset): 00-01, ... */}
                      <Table.Td>{`${p.start.slice(11, 13)}–${String((Number(p.start.slice(11, 13)) + 1) % 24).padStart(2, "0")}`}</Table.Td>
                      <Table.Td className="num">{formatPrice(p.eur_mwh)}</Table.Td>
                      <Table.Td>{p.source}</Table.Td>
                    </Table.Tr>
                  ))}
                </ScrollTable>
              </>
            )
          }
        </QueryView>
      )}
    </Section>
  );
}

function PriceImports() {
  const { t } = useTranslation(undefined, { keyPrefix: "money.prices" });
  const queries = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const history = useQuery({
    queryKey: ["price-imports"],
    queryFn: () => unwrap(economicApi.GET("/api/economic/prices/imports/")),
  });
  const send = useMutation({
    mutationFn: () => uploadForm<PriceImport>("/api/economic/prices/imports/", { file: file! }),
    onSuccess: () => {
      setFile(null);
      void queries.invalidateQueries({ queryKey: ["price-imports"] });
      void queries.invalidateQueries({ queryKey: ["prices"] });
    },
  });
  return (
    <Section
      title={t("importTitle")}
      onSubmit={() => {
        if (file) send.mutate();
      }}
    >
      <FormErrors error={send.error} fields={["file"]} />
      <FileUpload
        label={t("file")}
        description={t("importHint")}
        accept=".xml,.zip,application/xml,application/zip"
        file={file}
        onChange={setFile}
        error={fieldError(send.error, "file")}
        sending={send.isPending}
        submit={t("import")}
        miw={280}
      />
      {send.isSuccess && (
        <Text size="sm" c="teal.9" role="status">
          {send.data.unchanged
            ? t("unchanged")
            : t("imported", {
                days: send.data.days,
                first: formatDate(send.data.first_day),
                last: formatDate(send.data.last_day),
                added: send.data.hourly_added,
                superseded: send.data.hourly_superseded,
              })}
        </Text>
      )}
      <Title order={4} size="h5">
        {t("historyTitle")}
      </Title>
      <QueryView query={history} empty={t("historyEmpty")}>
        {(rows) => (
          <ScrollTable
            label={t("historyTitle")}
            minWidth={560}
            columns={[t("file"), t("days"), { label: t("hourly"), numeric: true }, t("importedAt")]}
          >
            {rows.map((i) => (
              <Table.Tr key={i.id}>
                <Table.Td>{i.filename}</Table.Td>
                <Table.Td>
                  {formatDate(i.first_day)} – {formatDate(i.last_day)} ({i.days})
                </Table.Td>
                <Table.Td className="num">{i.hourly_added + i.hourly_superseded}</Table.Td>
                <Table.Td>{formatDateTime(i.imported_at)}</Table.Td>
              </Table.Tr>
            ))}
          </ScrollTable>
        )}
      </QueryView>
    </Section>
  );
}
