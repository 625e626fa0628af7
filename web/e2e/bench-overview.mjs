// The manager's overview, first load through the gateway, in Debian's
// chromium (playwright-core). Called by bench/bench_web.py with a running
// fleet; prints one JSON line per load and nothing else on stdout.
// A fresh browser context per cold load (empty cache); warm loads reuse one.
import { chromium } from "playwright-core";

const gateway = process.env.CERC_GATEWAY;
const communityId = process.env.CERC_DEMO_CER_ID;
const tokens = process.env.CERC_SESSION; // the stored session, as the app keeps it
const runs = Number(process.env.BENCH_RUNS ?? "5");
if (!gateway || !communityId || !tokens) throw new Error("CERC_GATEWAY, CERC_DEMO_CER_ID and CERC_SESSION are required");

const browser = await chromium.launch({
  executablePath: process.env.CERC_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});

async function load(context, kind) {
  const page = await context.newPage();
  const scripts = new Map();
  page.on("response", async (response) => {
    if (response.request().resourceType() !== "script") return;
    const sizes = await response.request().sizes().catch(() => null);
    // Bytes on the wire: the body as sent (gzipped) plus nothing else.
    scripts.set(response.url(), sizes ? sizes.responseBodySize : 0);
  });
  const started = performance.now();
  await page.goto(`${gateway}/cer/${communityId}`, { waitUntil: "commit" });
  // Interactive: the overview's figures are on the page and the main thread
  // answers (a task queued now runs), i.e. React rendered and is idle.
  await page.getByTestId("members-count").waitFor({ timeout: 30000 });
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
  const interactiveMs = performance.now() - started;
  const nav = await page.evaluate(() => {
    const [entry] = performance.getEntriesByType("navigation");
    return { domContentLoadedMs: entry.domContentLoadedEventEnd, loadMs: entry.loadEventEnd };
  });
  await page.waitForLoadState("networkidle").catch(() => undefined);
  const jsBytes = [...scripts.values()].reduce((a, b) => a + b, 0);
  await page.close();
  return { kind, interactive_ms: Math.round(interactiveMs), dom_content_loaded_ms: Math.round(nav.domContentLoadedMs), js_files: scripts.size, js_bytes_on_wire: jsBytes };
}

async function contextWithSession() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "it-IT" });
  // Signed in already: the bench times the overview, not the typing of a password.
  await context.addInitScript((session) => sessionStorage.setItem("cerc.session", session), tokens);
  return context;
}

for (let i = 0; i < runs; i += 1) {
  const context = await contextWithSession();
  console.log(JSON.stringify(await load(context, "cold")));
  await context.close();
}
const warm = await contextWithSession();
await load(warm, "prime");
for (let i = 0; i < runs; i += 1) console.log(JSON.stringify(await load(warm, "warm")));

// A year of hourly points (8,760 per series) drawn on the energy page: the
// time from choosing the view to the chart drawn, and the longest task that
// held the main thread meanwhile (a frozen page shows as one long task).
{
  const page = await warm.newPage();
  await page.goto(`${gateway}/cer/${communityId}/energy`);
  await page.getByTestId("energy-chart").waitFor({ timeout: 30000 });
  await page.evaluate(() => {
    window.__longest = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__longest = Math.max(window.__longest, entry.duration);
    }).observe({ type: "longtask", buffered: false });
  });
  const started = performance.now();
  await page.getByLabel("Dettaglio").selectOption("hour");
  await page.locator("[data-testid=energy-chart][data-points]").filter({ has: page.locator("canvas") }).waitFor();
  await page.waitForFunction(() => Number(document.querySelector("[data-testid=energy-chart]")?.getAttribute("data-points")) > 8000, null, { timeout: 60000 });
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))));
  const drawnMs = performance.now() - started;
  const points = Number(await page.getByTestId("energy-chart").getAttribute("data-points"));
  const longestTaskMs = await page.evaluate(() => window.__longest);
  console.log(JSON.stringify({ kind: "year-hourly", points, drawn_ms: Math.round(drawnMs), longest_task_ms: Math.round(longestTaskMs) }));
  await page.close();
}
await warm.close();
await browser.close();
