// The web app in a real browser (Debian's chromium driven by playwright-core)
// against a running fleet with the demo community loaded. Run by
// tests/e2e/test_web.py; by hand:
//   CERC_GATEWAY=http://127.0.0.1:18080 CERC_SCREENSHOTS=.run/web-screenshots node e2e/run.mjs
// Prints one line per check and "N passed, N failed"; exits 1 on any failure.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createHmac } from "node:crypto";
import { chromium } from "playwright-core";
import { moneyChecks } from "./money.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const GATEWAY = process.env.CERC_GATEWAY ?? "http://127.0.0.1:18080";
const SHOTS = process.env.CERC_SCREENSHOTS ?? ".run/web-screenshots";
const PASSWORD = process.env.CERC_DEMO_PASSWORD ?? "Demo-Community-2025";
const OTHER = { username: process.env.CERC_OTHER_USER ?? "", password: process.env.CERC_OTHER_PASSWORD ?? "" };
const CHROMIUM = process.env.CERC_CHROMIUM ?? "/usr/bin/chromium";
const DEMO_ID = process.env.CERC_DEMO_CER_ID ?? "1";
const TFA = { username: process.env.CERC_TFA_USER ?? "", password: process.env.CERC_TFA_PASSWORD ?? "" };
// The money pages' month (official data and prices loaded) and the platform admin.
const PAYOUT_MONTH = process.env.CERC_PAYOUT_MONTH ?? "2025-06";
const ADMIN = { username: process.env.CERC_ADMIN_USER ?? "", password: process.env.CERC_ADMIN_PASSWORD ?? "" };
const ERASE = { username: process.env.CERC_ERASE_USER ?? "", password: process.env.CERC_ERASE_PASSWORD ?? "" };
const OTHER_SECOND = process.env.CERC_OTHER_SECOND_NAME ?? "";

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret, `stepOffset` steps from now. */
function totp(secret, stepOffset = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + stepOffset));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}
mkdirSync(SHOTS, { recursive: true });

let passed = 0;
let failed = 0;
async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${String(error?.stack ?? error).split("\n").slice(0, 6).join("\n     ")}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--lang=it-IT", "--disable-background-networking", "--disable-component-update", "--disable-default-apps", "--no-first-run"],
});

/** A fresh browser context (its own sessionStorage) watching for CSP violations and page errors. */
async function open(width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: "it-IT", timezoneId: "Europe/Rome" });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) problems.push(`csp: ${m.text()}`);
  });
  return { context, page, problems };
}

async function signIn(page, username) {
  await page.goto(`${GATEWAY}/`);
  await page.getByLabel("Nome utente").fill(username);
  await page.locator("input[autocomplete=current-password]").fill(username === OTHER.username ? OTHER.password : PASSWORD);
  await page.getByRole("button", { name: "Accedi" }).click();
  await page.getByRole("button", { name: "Esci" }).waitFor({ timeout: 15000 });
}

/** axe-core in the page (evaluated over the DevTools protocol, so the page's CSP still forbids inline script). */
async function axe(page, where) {
  const result = await page.evaluate(async (source) => {
    // eslint-disable-next-line no-eval
    (0, eval)(source);
    const run = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa"] });
    return run.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} × ${v.nodes[0]?.target.join(" ")}`);
  }, AXE);
  assert(result.length === 0, `${where}: axe found ${result.length} violation(s):\n       ${result.join("\n       ")}`);
}

async function shot(page, name) {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// ---------------------------------------------------------------- manager
{
  const { context, page, problems } = await open();
  await check("manager signs in and lands on the community overview", async () => {
    await signIn(page, "demo-manager");
    await page.getByRole("heading", { name: "CER Demo Bergamo", level: 2 }).waitFor();
    assert(/\/cer\/\d+$/.test(page.url()), `landed on ${page.url()}`);
    const members = await page.getByTestId("members-count").textContent();
    assert(Number(members) >= 8, `members shown: ${members}`);
    await page.getByRole("cell", { name: "AC001E00101" }).first().waitFor();
    await page.getByRole("cell", { name: "AC001E00102" }).first().waitFor();
    await shot(page, "01-manager-overview");
    await axe(page, "overview");
  });
  const base = page.url();

  await check("energy by day shows the month with shared energy and coverage", async () => {
    await page.getByRole("link", { name: "Energia", exact: true }).click();
    await page.getByRole("heading", { name: "Energia della comunità" }).waitFor();
    await page.locator("main").getByRole("status").waitFor({ state: "detached", timeout: 15000 }).catch(() => undefined);
    await shot(page, "02-manager-energy");
    await axe(page, "energy");
  });

  await check("manager runs an estimate for last month: the run finishes and its result or error is shown", async () => {
    await page.goto(`${base}/settlements`);
    await page.getByRole("heading", { name: "Liquidazioni", level: 2 }).waitFor();
    // The heading stands before the runs are loaded: wait for them, then tell the new
    // run by its id (other tests' runs of the community may be listed above it).
    await page.locator("main").getByRole("status").waitFor({ state: "detached", timeout: 15000 }).catch(() => undefined);
    const runIds = () => page.locator("[data-testid^=run-]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-testid")));
    const before = new Set(await runIds());
    await page.getByRole("button", { name: "Calcola stima" }).click();
    let created = null;
    for (let waited = 0; !created && waited < 15000; waited += 250) {
      created = (await runIds()).find((id) => !before.has(id)) ?? null;
      if (!created) await page.waitForTimeout(250);
    }
    assert(created, "the new run never appeared in the list");
    // A run is a job: the page polls until it is COMPLETED or FAILED.
    const row = page.getByTestId(created);
    await row.getByText(/Completata|Fallita/).waitFor({ timeout: 30000 });
    const status = (await row.textContent()) ?? "";
    await row.getByRole("button").click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    if (status.includes("Completata")) {
      await dialog.getByRole("row").nth(1).waitFor();
      assert((await dialog.getByRole("row").count()) >= 9, "fewer than 8 members in the run");
      assert(/\d,\d\d €/.test((await dialog.textContent()) ?? ""), "no euro amount in Italian format");
    } else {
      // A failed run says why (e.g. the energy service refused the call).
      const why = await dialog.getByRole("alert").textContent();
      console.log(`     (the run FAILED: ${why})`);
    }
    await shot(page, "03-manager-settlement-run");
    await axe(page, "settlement run");
    await page.keyboard.press("Escape");
  });

  await check("approving: a PROVISIONAL run is approved when the month has official data", async () => {
    await page.goto(`${base}/settlements`);
    await page.getByRole("button", { name: "Calcola provvisoria" }).click();
    const row = page.locator("[data-testid^=run-]").first();
    await row.getByText(/Provvisoria/).waitFor({ timeout: 15000 });
    await row.getByText(/Completata|Fallita/).waitFor({ timeout: 30000 });
    const text = (await row.textContent()) ?? "";
    if (text.includes("Fallita")) {
      // No official data for the month: the run says so and nothing can be approved.
      await row.getByRole("button").click();
      await page.getByRole("dialog").getByRole("alert").waitFor();
      assert((await page.getByRole("button", { name: "Approva (definitiva)" }).count()) === 0, "a failed run offers approval");
      await page.keyboard.press("Escape");
      console.log("     (no official data: PROVISIONAL failed as it must, nothing to approve)");
      return;
    }
    await row.getByRole("button").click();
    await page.getByRole("button", { name: "Approva (definitiva)" }).click();
    await page.getByText("Definitiva").first().waitFor({ timeout: 30000 });
  });
  await shot(page, "04-manager-settlements");

  await check("devices: provisioning shows the credentials once", async () => {
    await page.goto(`${base}/devices`);
    await page.getByRole("heading", { name: "Dispositivi della comunità" }).waitFor();
    await shot(page, "05-manager-devices");
    await axe(page, "devices");
    const id = `web-e2e-${Date.now()}`;
    await page.getByLabel("Codice dispositivo").fill(id);
    await page.getByLabel("Modello").fill("shelly-pro-3em");
    await page.getByRole("button", { name: "Registra", exact: true }).click();
    await page.getByRole("dialog").waitFor();
    const password = await page.getByTestId("mqtt-password").textContent();
    assert(password && password.length >= 16, `no password shown: ${password}`);
    await page.getByRole("button", { name: "Le ho salvate" }).click();
    await page.getByRole("cell", { name: id, exact: true }).waitFor();
    assert((await page.getByText(password).count()) === 0, "the password is still on the page");
    // Rotation: new credentials, shown once again, different from the first.
    await page.getByRole("button", { name: `Nuove credenziali per ${id}` }).click();
    const rotated = await page.getByTestId("mqtt-password").textContent();
    assert(rotated && rotated !== password, "rotation showed no new password");
    await page.getByRole("button", { name: "Le ho salvate" }).click();
    // Revocation, after a confirmation.
    await page.getByRole("button", { name: `Revoca ${id}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoca" }).click();
    const row = page.getByTestId("device-row").filter({ hasText: id });
    await row.getByText("Revocato").waitFor();
  });

  await check("devices: a bad device id is shown next to its field", async () => {
    await page.getByLabel("Codice dispositivo").fill("bad id with spaces/and slashes");
    await page.getByLabel("Modello").fill("x");
    await page.getByRole("button", { name: "Registra", exact: true }).click();
    const field = page.getByLabel("Codice dispositivo");
    await page.waitForFunction(() => document.querySelector("[aria-invalid=true]") !== null, null, { timeout: 10000 });
    assert((await field.getAttribute("aria-invalid")) === "true", "the device id field is not marked invalid");
  });

  await check("members: the list and the invitation form", async () => {
    await page.goto(`${base}/members`);
    await page.getByRole("heading", { name: "Membri", level: 2 }).waitFor();
    await page.getByTestId("member-row").first().waitFor();
    assert((await page.getByTestId("member-row").count()) >= 8, "fewer than 8 members listed");
    await page.getByLabel("E-mail").fill(`web-e2e-${Date.now()}@example.it`);
    await page.getByRole("button", { name: "Invia invito" }).click();
    await page.getByText("Invito inviato").waitFor();
    await shot(page, "06-manager-members");
    await axe(page, "members");
  });

  await check("members: a manager edits a period, the API's error next to its field", async () => {
    const row = page.getByTestId("member-row").filter({ hasText: "Vera Revisore" });
    await row.getByRole("button", { name: "Modifica il periodo di Vera Revisore" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Inizio").waitFor();
    const start = await dialog.getByLabel("Inizio").inputValue();
    // A current period cannot begin in the future: refused, shown at "Inizio".
    await dialog.getByLabel("Inizio").fill("2999-01-01");
    await dialog.getByRole("button", { name: "Salva" }).click();
    await page.waitForFunction(() => document.querySelector("[role=dialog] input[aria-invalid=true]") !== null);
    assert((await dialog.getByLabel("Inizio").getAttribute("aria-invalid")) === "true", "the start field is not marked invalid");
    assert(/after today|dopo oggi|on or before/.test((await dialog.textContent()) ?? ""), "the API's message is not shown");
    await shot(page, "30-manager-period-error");
    await axe(page, "period dialog");
    // Her period ends at the end of the century (a real end, harmless for the demo).
    await dialog.getByLabel("Inizio").fill(start);
    await dialog.getByLabel("Fine", { exact: true }).fill("2099-12-31");
    await dialog.getByRole("button", { name: "Salva" }).click();
    await dialog.waitFor({ state: "detached" });
    await row.getByText("31/12/2099").waitFor();
  });

  await check("imports: a bad distributor file is refused with its errors line by line", async () => {
    await page.goto(`${base}/imports`);
    await page.getByRole("heading", { name: "Importazioni dal distributore" }).waitFor();
    await page.locator("input[type=file]").setInputFiles({
      name: "marzo_immessa.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("POD;DATA;ORA\nIT999;xx;1\n"),
    });
    await page.getByRole("button", { name: "Carica", exact: true }).click();
    const errors = page.getByRole("alert", { name: "Errori nel file" });
    await errors.waitFor();
    assert((await errors.getByRole("row").count()) >= 2, "no error rows");
    assert(/line 1, column A/.test((await errors.textContent()) ?? ""), "errors do not name line and column");
    await shot(page, "07-manager-imports");
    await axe(page, "imports");
  });

  await moneyChecks({
    page, base, gateway: GATEWAY, month: PAYOUT_MONTH, password: PASSWORD, admin: ADMIN, communityId: DEMO_ID,
    check, assert, shot, axe, open,
  });

  await check("the app keeps to its CSP (no inline script refused) and raised no page error", async () => {
    assert(problems.length === 0, problems.join("\n"));
  });
  await context.close().catch(() => undefined);
}

// ---------------------------------------------------------------- member
{
  const { context, page, problems } = await open(390);
  await check("a member on a phone sees only their own page", async () => {
    await signIn(page, "demo-anna");
    await page.getByRole("heading", { name: /Ciao Anna/ }).waitFor();
    assert(page.url().endsWith("/me"), `landed on ${page.url()}`);
    await page.getByTestId("my-earned").waitFor();
    await shot(page, "08-member-home-phone");
    await axe(page, "member home");
    // No manager pages in the menu, and a deep link to one is "not found".
    await page.getByRole("button", { name: "Menu" }).click();
    assert((await page.getByRole("link", { name: "Liquidazioni" }).count()) === 0, "a member sees the settlements link");
    const communityLink = `${GATEWAY}/cer/${DEMO_ID}/settlements`;
    await page.goto(communityLink);
    await page.getByRole("heading", { name: "Non trovato" }).waitFor();
  });
  await check("a member's profile with two-step verification", async () => {
    await page.goto(`${GATEWAY}/me/profile`);
    await page.getByRole("heading", { name: "Verifica in due passaggi" }).waitFor();
    await shot(page, "09-member-profile");
    await axe(page, "profile");
  });
  await check("a member's notifications and how they want to be told", async () => {
    await page.goto(`${GATEWAY}/me/notifications`);
    await page.getByRole("heading", { name: "Notifiche", level: 2 }).waitFor();
    await page.getByRole("heading", { name: "Come vuoi essere avvisato" }).waitFor();
    await shot(page, "11-member-notifications");
    await axe(page, "notifications");
  });
  await check("a member's earnings and monthly statement", async () => {
    await page.goto(`${GATEWAY}/me/statements`);
    await page.getByRole("heading", { name: "Guadagni e rendiconti", level: 2 }).waitFor();
    await page.getByTestId("statements-earned").waitFor();
    const before = await page.getByTestId("statement-row").count();
    await page.getByRole("button", { name: "Prepara il rendiconto (PDF)" }).click();
    await page.getByTestId("statement-row").nth(before).waitFor({ timeout: 15000 });
    const row = page.getByTestId("statement-row").first();
    await row.getByText(/Pronto|Non riuscito/).waitFor({ timeout: 60000 });
    if ((await row.textContent())?.includes("Pronto")) {
      const [download] = await Promise.all([page.waitForEvent("download"), row.getByRole("button", { name: /Scarica il rendiconto/ }).click()]);
      const pdf = readFileSync(await download.path());
      assert(pdf.subarray(0, 5).toString() === "%PDF-", `the statement is not a PDF: ${pdf.subarray(0, 20)}`);
    } else {
      console.log(`     (the statement FAILED: ${await row.textContent()})`);
    }
    await shot(page, "31-member-statements");
    await axe(page, "statements");
  });
  await check("a member downloads their data: only their own", async () => {
    await page.goto(`${GATEWAY}/me/data`);
    await page.getByRole("heading", { name: "I miei dati", level: 2 }).waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Scarica i miei dati" }).click()]);
    const text = readFileSync(await download.path(), "utf8");
    const data = JSON.parse(text);
    assert(data.account.profile.username === "demo-anna", `the export is ${data.account?.profile?.username}'s`);
    const id = data.account.profile.id;
    assert(data.communities.memberships.length >= 1, "no membership in the export");
    assert(data.communities.memberships.every((m) => m.user_id === id), "another person's membership in the export");
    assert(data.communities.plants.every((p) => p.owner_user_id === undefined || p.owner_user_id === id), "another person's plant");
    for (const other of ["demo-bruno", "demo-carla", "demo-manager", "VRDBRN75C12A794"]) {
      assert(!text.includes(other), `the export holds ${other}`);
    }
    assert(data.account.profile.email === "demo-anna@demo.cercollettiva.it", "the e-mail is missing");
    assert(!/password_hash|token_hash|totp_secret/.test(text), "a secret in the export");
    await shot(page, "32-member-my-data");
    await axe(page, "my data");
  });
  await check("erasing asks for a confirmation, and cancelling erases nothing", async () => {
    await page.getByRole("button", { name: "Cancella il mio account…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Restano, per obbligo di legge").waitFor();
    const confirm = dialog.getByRole("button", { name: "Cancella definitivamente" });
    assert(await confirm.isDisabled(), "erasure is possible without the confirmation");
    await dialog.locator("input[autocomplete=current-password]").fill("anything");
    assert(await confirm.isDisabled(), "erasure is possible without ticking that it is final");
    await shot(page, "33-member-erasure-confirmation");
    await axe(page, "erasure confirmation");
    await dialog.getByRole("button", { name: "Annulla" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.goto(`${GATEWAY}/me`);
    await page.getByRole("heading", { name: /Ciao Anna/ }).waitFor();
  });
  await check("member pages raised no CSP or page error", async () => {
    assert(problems.length === 0, problems.join("\n"));
  });
  await context.close().catch(() => undefined);
}

// ---------------------------------------------------- two-step verification
if (TFA.username) {
  const { context, page } = await open();
  await check("a person turns on two-step verification, and signing in then asks for the code", async () => {
    await page.goto(`${GATEWAY}/login`);
    await page.getByLabel("Nome utente").fill(TFA.username);
    await page.locator("input[autocomplete=current-password]").fill(TFA.password);
    await page.getByRole("button", { name: "Accedi" }).click();
    await page.getByRole("button", { name: "Esci" }).waitFor();
    await page.goto(`${GATEWAY}/me/profile`);
    await page.getByRole("button", { name: "Attiva la verifica in due passaggi" }).click();
    const secret = (await page.getByTestId("totp-secret").textContent()) ?? "";
    assert(/^[A-Z2-7]{16,}$/.test(secret), `no base32 secret shown: ${secret}`);
    // A wrong code is refused next to the code field.
    await page.getByLabel("Codice di verifica").fill("000000" === totp(secret) ? "111111" : "000000");
    await page.getByRole("button", { name: "Conferma" }).click();
    await page.waitForFunction(() => document.querySelector("input[autocomplete=one-time-code][aria-invalid=true]") !== null);
    await page.getByLabel("Codice di verifica").fill(totp(secret));
    await page.getByRole("button", { name: "Conferma" }).click();
    await page.getByText("Attiva", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Esci" }).click();
    await page.getByLabel("Nome utente").fill(TFA.username);
    await page.locator("input[autocomplete=current-password]").fill(TFA.password);
    await page.getByRole("button", { name: "Accedi" }).click();
    // The password was right: now the code, as its own step (no error shown).
    const code = page.locator("input[autocomplete=one-time-code]");
    await code.waitFor();
    assert((await page.getByRole("alert").count()) === 0, "the otp step is shown as an error");
    await shot(page, "12-login-second-step");
    // The code of the next step: the one used to confirm cannot be used again.
    await code.fill(totp(secret, 1));
    await page.getByRole("button", { name: "Accedi" }).click();
    await page.getByRole("button", { name: "Esci" }).waitFor();
  });
  await context.close().catch(() => undefined);
}

// ------------------------------------------------- another community's member
if (OTHER.username) {
  const { context, page } = await open();
  await check("a member of another community deep-linking the demo community gets not found", async () => {
    await page.goto(`${GATEWAY}/cer/${DEMO_ID}`);
    await page.getByLabel("Nome utente").fill(OTHER.username);
    await page.locator("input[autocomplete=current-password]").fill(OTHER.password);
    await page.getByRole("button", { name: "Accedi" }).click();
    // Back on the deep link after signing in, and the API said 404.
    await page.getByRole("heading", { name: "Non trovato" }).waitFor({ timeout: 15000 });
    assert(new URL(page.url()).pathname === `/cer/${DEMO_ID}`, `not on the deep link: ${page.url()}`);
    assert((await page.getByText("CER Demo Bergamo").count()) === 0, "the demo community's name is on the page");
    await shot(page, "10-other-community-not-found");
  });
  await context.close().catch(() => undefined);
}

// ------------------------------------------------------ a person erases themselves
if (ERASE.username) {
  const { context, page, problems } = await open();
  await check("a person erases their account: the password again, then it is gone", async () => {
    await page.goto(`${GATEWAY}/me/data`);
    await page.getByLabel("Nome utente").fill(ERASE.username);
    await page.locator("input[autocomplete=current-password]").fill(ERASE.password);
    await page.getByRole("button", { name: "Accedi" }).click();
    await page.getByRole("heading", { name: "I miei dati", level: 2 }).waitFor({ timeout: 15000 });
    await page.getByRole("button", { name: "Cancella il mio account…" }).click();
    const dialog = page.getByRole("dialog");
    const password = dialog.locator("input[autocomplete=current-password]");
    await password.fill("not-my-password-1");
    await dialog.getByLabel("Ho capito che la cancellazione è definitiva").check();
    await dialog.getByRole("button", { name: "Cancella definitivamente" }).click();
    await page
      .waitForFunction(() => document.querySelector("[role=dialog] input[aria-invalid=true]") !== null)
      .catch(async (error) => {
        await shot(page, "34-account-erasure-wrong-password");
        throw new Error(`the wrong password is not marked at its field; the dialog says: ${await dialog.textContent()} (${error.message})`);
      });
    await password.fill(ERASE.password);
    await dialog.getByRole("button", { name: "Cancella definitivamente" }).click();
    await page.getByText("Account cancellato").waitFor();
    await shot(page, "34-account-erased");
    await axe(page, "account erased");
    // The account's tokens are refused once the services hear of it: start clean.
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${GATEWAY}/login`);
    await page.getByLabel("Nome utente").fill(ERASE.username);
    await page.locator("input[autocomplete=current-password]").fill(ERASE.password);
    await page.getByRole("button", { name: "Accedi" }).click();
    await page.getByRole("alert").waitFor();
    assert((await page.getByRole("button", { name: "Esci" }).count()) === 0, "the erased account signed in");
    assert(problems.length === 0, problems.join("\n"));
  });
  await context.close().catch(() => undefined);
}

// ------------------------------------------------ a manager of two communities
if (OTHER.username && OTHER_SECOND) {
  const { context, page } = await open();
  await check("a manager of two communities switches between them; the choice is in the URL", async () => {
    await signIn(page, OTHER.username);
    // Home sends a manager on to their first community.
    await page.waitForURL(/\/cer\/\d+$/);
    const switcher = page.getByLabel("Comunità", { exact: true });
    await switcher.waitFor();
    const first = new URL(page.url()).pathname;
    assert(/^\/cer\/\d+$/.test(first), `landed on ${first}`);
    const options = await switcher.locator("option").allTextContents();
    assert(options.includes("CER Altra Valle") && options.includes(OTHER_SECOND), `options: ${options}`);
    assert(!options.includes("CER Demo Bergamo"), "another person's community in the switcher");
    await switcher.selectOption({ label: OTHER_SECOND });
    await page.getByRole("heading", { name: OTHER_SECOND, level: 2 }).waitFor();
    const second = new URL(page.url()).pathname;
    assert(second !== first && /^\/cer\/\d+$/.test(second), `switched to ${second}`);
    // A deep link opens the chosen community, and one's own pages follow the choice.
    await page.goto(`${GATEWAY}${second}/members`);
    await page.getByRole("heading", { name: "Membri", level: 2 }).waitFor();
    assert((await switcher.inputValue()) === second.split("/")[2], "the switcher lost the deep link's community");
    await page.getByRole("link", { name: "La mia energia" }).click();
    await page.waitForURL(/\/me\?cer=\d+/);
    assert(new URL(page.url()).searchParams.get("cer") === second.split("/")[2], `my page is not the chosen community's: ${page.url()}`);
    await shot(page, "35-community-switcher");
    await axe(page, "switcher");
    // The demo community stays out of reach.
    await page.goto(`${GATEWAY}/cer/${DEMO_ID}`);
    await page.getByRole("heading", { name: "Non trovato" }).waitFor();
  });
  await context.close().catch(() => undefined);
}

await check("the login page in English, reachable by keyboard", async () => {
  const { context, page } = await open();
  await page.goto(`${GATEWAY}/login`);
  await page.locator("input[autocomplete=username]").waitFor();
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.getAttribute("autocomplete") ?? document.activeElement?.outerHTML.slice(0, 120));
  assert(focused === "username", `first Tab focused ${focused}`);
  await shot(page, "00-login");
  await axe(page, "login");
  await context.close().catch(() => undefined);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
