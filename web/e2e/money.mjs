// The manager's money pages in the browser (run by e2e/run.mjs with its helpers):
// a month settled and approved, a payout batch created from it, its SEPA file
// downloaded and checked (a pain.001 whose total is the approved amount), the
// bank's pain.002 uploaded and each transfer's status shown; the GSE
// reconciliation, a report downloaded as PDF and XLSX, the prices (and, for the
// platform admin, their import). Screenshots and axe on each page.
import { readFileSync } from "node:fs";

const PAIN001 = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03";
const COMMUNITY_IBAN = "IT60X0542811101000000123456";

/** "1.234,56 €" -> 123456 (cents), from the digits. */
export function italianCents(text) {
  const match = /(-?)([\d.]+),(\d{2})\s*€/.exec(text ?? "");
  if (!match) throw new Error(`no euro amount in ${JSON.stringify(text)}`);
  return (match[1] ? -1 : 1) * (Number(match[2].replaceAll(".", "")) * 100 + Number(match[3]));
}

/** "12.34" -> 1234 without floats. */
function decimalCents(text) {
  const [whole, fraction = ""] = text.trim().replace("-", "").split(".");
  const cents = Number(whole) * 100 + Number((fraction + "00").slice(0, 2));
  if (/[1-9]/.test(fraction.slice(2))) throw new Error(`${text} is not to the cent`);
  return text.trim().startsWith("-") ? -cents : cents;
}

function all(xml, tag) {
  return [...xml.matchAll(new RegExp(`<${tag}(?: [^>]*)?>([^<]*)</${tag}>`, "g"))].map((m) => m[1]);
}

/** The bank's answer to a pain.001: the first transfer rejected (AC04), the rest settled. */
function pain002(pain001) {
  const messageId = all(pain001, "MsgId")[0];
  const block = all(pain001, "PmtInfId")[0];
  const transfers = all(pain001, "EndToEndId")
    .map(
      (e2e, i) =>
        `<TxInfAndSts><StsId>S-${i}</StsId><OrgnlEndToEndId>${e2e}</OrgnlEndToEndId>` +
        (i === 0 ? "<TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>" : "<TxSts>ACSC</TxSts>") +
        "</TxInfAndSts>",
    )
    .join("");
  return (
    '<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">' +
    "<CstmrPmtStsRpt><GrpHdr><MsgId>BANK-STS-WEB</MsgId><CreDtTm>2025-08-01T08:00:00</CreDtTm></GrpHdr>" +
    `<OrgnlGrpInfAndSts><OrgnlMsgId>${messageId}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>` +
    `<OrgnlPmtInfAndSts><OrgnlPmtInfId>${block}</OrgnlPmtInfId>${transfers}</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>`
  );
}

async function api(gateway, username, password) {
  const login = await fetch(`${gateway}/api/auth/login/`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const token = (await login.json()).data.access_token;
  return async (path) => (await (await fetch(`${gateway}${path}`, { headers: { Authorization: `Bearer ${token}` } })).json()).data;
}

/** Wait for the download a click starts; its name and bytes. */
async function downloaded(page, click) {
  const [file] = await Promise.all([page.waitForEvent("download"), click()]);
  return { name: file.suggestedFilename(), bytes: readFileSync(await file.path()) };
}

export async function moneyChecks({ page, base, gateway, month, password, admin, communityId, check, assert, shot, axe, open }) {
  const [year, mm] = month.split("-");
  const monthName = new Intl.DateTimeFormat("it-IT", { month: "long", year: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(Number(year), Number(mm) - 1, 15)),
  );

  await check(`settles ${month} (PROVISIONAL on official data) and approves it`, async () => {
    await page.goto(`${base}/settlements`);
    await page.getByRole("heading", { name: "Liquidazioni", level: 2 }).waitFor();
    await page.getByLabel("Mese").fill(month);
    await page.getByRole("button", { name: "Calcola provvisoria" }).click();
    const section = page.getByRole("region", { name: monthName });
    const row = section.locator("[data-testid^=run-]").filter({ hasText: "Provvisoria" }).first();
    await row.getByText(/Completata|Fallita/).waitFor({ timeout: 60000 });
    await row.getByRole("button").click();
    const dialog = page.getByRole("dialog");
    assert(!(await dialog.getByRole("alert").count()), `the run failed: ${await dialog.getByRole("alert").first().textContent().catch(() => "")}`);
    await dialog.getByRole("button", { name: "Approva (definitiva)" }).click();
    await section.getByText("Definitiva").first().waitFor({ timeout: 30000 });
  });

  let approvedCents = null;
  await check("payouts: the account, the approved month, a batch and its SEPA file (pain.001 totalling the approved amount)", async () => {
    await page.goto(`${base}/payouts`);
    await page.getByRole("heading", { name: "Pagamenti ai membri", level: 2 }).waitFor();
    const approved = page.getByTestId(`approved-${month}`);
    await approved.waitFor();
    approvedCents = italianCents(await approved.getByTestId("approved-members").textContent());
    // What the API says the approved run owes its members, counted here independently.
    const get = await api(gateway, "demo-manager", password);
    const runs = await get(`/api/economic/settlements/?community_id=${communityId}&period=${month}`);
    const final = runs.find((r) => r.kind === "FINAL" && r.status === "COMPLETED");
    assert(final, `no approved run of ${month}`);
    const owed = final.members.map((m) => decimalCents(m.eur)).filter((c) => c > 0).reduce((a, b) => a + b, 0);
    assert(owed > 0 && owed === approvedCents, `the page shows ${approvedCents} cents owed, the run ${owed}`);

    // A bad IBAN is refused next to its field, and nothing is saved.
    await page.getByLabel("Intestatario del conto").fill("CER Demo Bergamo");
    await page.getByRole("textbox", { name: /^IBAN/ }).fill("IT60X0542811101000000123457");
    await page.getByRole("button", { name: "Salva il conto" }).click();
    await page.waitForFunction(() => document.querySelector("input[aria-invalid=true]") !== null);
    await page.getByRole("textbox", { name: /^IBAN/ }).fill(COMMUNITY_IBAN);
    await page.getByRole("button", { name: "Salva il conto" }).click();
    await page.getByText("Conto salvato").waitFor();
    await shot(page, "13-manager-payouts");
    await axe(page, "payouts");

    await page.getByRole("button", { name: "Crea distinta di pagamento" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByTestId("transfer-row").first().waitFor();
    const file = await downloaded(page, () => dialog.getByRole("button", { name: /Scarica il file SEPA/ }).click());
    const xml = file.bytes.toString("utf8");
    assert(file.name.endsWith(".xml"), `downloaded ${file.name}`);
    assert(xml.includes(`xmlns="${PAIN001}"`), "not a pain.001.001.03 document");
    const amounts = all(xml, "InstdAmt").map(decimalCents);
    const controlSums = all(xml, "CtrlSum").map(decimalCents);
    const total = amounts.reduce((a, b) => a + b, 0);
    assert(amounts.length === (await dialog.getByTestId("transfer-row").count()), "transfers in the file and on the page differ");
    assert(controlSums.length >= 1 && controlSums.every((c) => c === total), `CtrlSum ${controlSums} against transfers ${total}`);
    assert(total === approvedCents, `the SEPA file pays ${total} cents, the approved month owes ${approvedCents}`);
    assert(xml.includes(`<IBAN>${COMMUNITY_IBAN}</IBAN>`), "the debtor's IBAN is not the community's");
    await shot(page, "14-manager-payout-batch");
    await axe(page, "payout batch");

    // The bank's status report: one rejected, the others settled, shown per transfer.
    await dialog.locator("input[type=file]").setInputFiles({ name: "pain002.xml", mimeType: "application/xml", buffer: Buffer.from(pain002(xml)) });
    await dialog.getByRole("button", { name: "Carica l'esito" }).click();
    const applied = await dialog.getByTestId("status-report-applied").textContent();
    assert(applied.includes(`${amounts.length - 1} eseguiti, 1 rifiutati`), `report applied: ${applied}`);
    assert((await dialog.getByTestId("transfer-row").filter({ hasText: "Rifiutato" }).count()) === 1, "no rejected transfer shown");
    assert((await dialog.getByTestId("transfer-row").filter({ hasText: "Eseguito" }).count()) === amounts.length - 1, "settled transfers not shown");
    await shot(page, "15-manager-payout-status-report");
    await page.keyboard.press("Escape");
    const batch = page.getByTestId("payout-row").first();
    await batch.getByText("Conclusa").waitFor();
    assert(italianCents(await batch.getByTestId("payout-total").textContent()) === approvedCents, "the batch's total on the list");
  });

  await check("GSE reconciliation: the month's comparison and the sync jobs", async () => {
    await page.goto(`${base}/reconciliation`);
    await page.getByRole("heading", { name: "Riconciliazione GSE", level: 2 }).waitFor();
    await page.getByLabel("Mese").fill(month);
    const status = page.getByTestId("reconciliation-status");
    await status.waitFor();
    // No GSE figures for the demo month: the comparison says what is missing.
    const said = await status.textContent();
    assert(["Coincide", "Differenza", "Incompleto"].includes(said), `status ${said}`);
    if (said === "Incompleto") await page.getByText(/manca il dato pubblicato dal GSE/).waitFor();
    await page.getByRole("heading", { name: "Pagamenti del GSE" }).waitFor();
    // A sync is a job the GSE worker runs: the page follows it to its end.
    await page.getByRole("button", { name: "Sincronizza il mese" }).click();
    const job = page.getByTestId("gse-job").first();
    await job.getByText(/Conclusa|Fallita/).waitFor({ timeout: 60000 });
    console.log(`     (GSE sync: ${(await job.textContent()).replace(/\s+/g, " ")}; comparison: ${await status.textContent()})`);
    await shot(page, "16-manager-reconciliation");
    await axe(page, "reconciliation");
  });

  await check("reports: the monthly report prepared and downloaded as PDF and XLSX", async () => {
    await page.goto(`${base}/reports`);
    await page.getByRole("heading", { name: "Report", level: 2 }).waitFor();
    // The heading stands before the list is loaded: count its rows once it is.
    await page.locator("main").getByRole("status").waitFor({ state: "detached", timeout: 15000 }).catch(() => undefined);
    await page.getByLabel("Mese").fill(month);
    for (const [format, magic] of [
      ["PDF", "%PDF"],
      ["XLSX", "PK"],
    ]) {
      await page.getByLabel("Formato").selectOption(format);
      const before = await page.getByTestId("report-row").count();
      await page.getByRole("button", { name: "Prepara il report" }).click();
      // The job is queued by the reporting service; on a loaded machine that takes a moment.
      await page.getByTestId("report-row").nth(before).waitFor({ timeout: 30000 });
      const row = page.getByTestId("report-row").filter({ hasText: format }).first();
      await row.getByText(/Pronto|Fallito/).waitFor({ timeout: 60000 });
      assert(!(await row.getByText("Fallito").count()), `the ${format} report failed: ${await row.textContent()}`);
      const file = await downloaded(page, () => row.getByRole("button", { name: new RegExp(`Scarica il report \\d+ \\(${format}\\)`) }).click());
      assert(file.bytes.subarray(0, magic.length).toString("latin1") === magic, `${file.name} is not a ${format}`);
    }
    await shot(page, "17-manager-reports");
    await axe(page, "reports");
  });

  await check("prices: the parameters in force and a day's hourly prices", async () => {
    await page.goto(`${gateway}/prices`);
    await page.getByRole("heading", { name: "Prezzi e parametri", level: 2 }).waitFor();
    await page.getByTestId("parameter-row").first().waitFor();
    await page.getByLabel("Giorno").fill(`${month}-15`);
    await page.getByTestId("price-row").nth(23).waitFor();
    assert((await page.getByTestId("price-row").count()) === 24, "not 24 hourly prices");
    assert(/^\d{1,3}(\.\d{3})*,\d\d$/.test((await page.getByTestId("price-mean").textContent()) ?? ""), "the mean is not in Italian format");
    // Only a platform admin may import prices.
    assert((await page.getByText("Importa i prezzi del mercato").count()) === 0, "a manager sees the import");
    await shot(page, "18-manager-prices");
    await axe(page, "prices");
  });

  if (admin.username) {
    const { context, page: adminPage } = await open();
    await check("prices: the platform admin imports a market file (a bad one is refused next to the field)", async () => {
      await adminPage.goto(`${gateway}/login`);
      await adminPage.getByLabel("Nome utente").fill(admin.username);
      await adminPage.locator("input[autocomplete=current-password]").fill(admin.password);
      await adminPage.getByRole("button", { name: "Accedi" }).click();
      await adminPage.getByRole("button", { name: "Esci" }).waitFor({ timeout: 15000 });
      await adminPage.goto(`${gateway}/prices`);
      await adminPage.getByRole("heading", { name: "Importa i prezzi del mercato (amministratore)" }).waitFor();
      await adminPage.locator("input[type=file]").setInputFiles({ name: "prezzi.xml", mimeType: "application/xml", buffer: Buffer.from("<NewDataSet/>") });
      await adminPage.getByRole("button", { name: "Importa", exact: true }).click();
      // The service's refusal: next to the file field, or above the form.
      await adminPage.waitForFunction(() => document.querySelector("[aria-invalid=true], [role=alert]") !== null);
      await shot(adminPage, "19-admin-prices-import");
      await axe(adminPage, "prices (admin)");
    });
    await context.close().catch(() => undefined);
  }
}
