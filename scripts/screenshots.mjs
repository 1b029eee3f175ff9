#!/usr/bin/env node
/**
 * `npm run screenshots`: the Temporal Web UI pictures in the README, taken for real. Starts the whole local stack in
 * a temporary directory, enrolls a few members of the default campaign through the API (one reaches the target, one
 * is part-way, one has a delayed load pending, one withdrew), then opens the Web UI in headless Chromium (Debian's
 * `chromium` package, installed with apt when missing and run as root) and writes:
 *
 * - docs/images/web-ui-member.png: one member's workflow, with its summary and current details in words;
 * - docs/images/web-ui-query.png: the workflow list filtered on the custom search attributes;
 * - docs/images/web-ui-list-view.png: the operators' saved view, with ActivationState, CountedCents and EvaluatesAt as
 *   columns (the Web UI keeps both in the browser's localStorage: set here as an operator would by hand);
 * - docs/images/web-ui-timeline.png: one member's timeline, each record named for the news it carried.
 *
 * Needs `npm run build` output (the npm script runs scripts/ensure.sh first). CHROMIUM_PATH overrides the browser.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'docs', 'images');
const CAMPAIGN = 'cold-activation';
const QUERY = `CampaignId="${CAMPAIGN}" AND ActivationState="GOAL_ACHIEVED"`;
const VIEW_QUERY = `CampaignId="${CAMPAIGN}"`;
/** The list's columns as the Web UI stores them per namespace (Configure Columns), and the saved view (Save as View). */
const LIST_COLUMNS = ['Status', 'Workflow ID', 'ActivationState', 'CountedCents', 'EvaluatesAt', 'Start'];
const operatorsView = () => ({
  'namespace-workflow-table-columns': { default: LIST_COLUMNS.map((label) => ({ label })) },
});
const say = (line) => process.stderr.write(`[screenshots] ${line}\n`);

function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    say('installing Debian chromium with apt-get (once)…');
    execFileSync('apt-get', ['install', '-y', '-q', 'chromium'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  }
  throw new Error('no Chromium found: install Debian\'s "chromium" package or set CHROMIUM_PATH');
}

async function api(base, method, url, body) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function until(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Members in different places, so the pictures show what operators see. */
async function populate(base) {
  // Transactions count from the enrollment on: they happen now, after it.
  const at = () => new Date().toISOString();
  const load = (memberId, transactionId, amountCents, channel) =>
    api(base, 'POST', '/v1/transactions', {
      transactionId,
      memberId,
      kind: 'LOAD',
      amountCents,
      currency: 'AUD',
      channel,
      occurredAt: at(),
    });
  for (const memberId of ['M-1001', 'M-1002', 'M-1003', 'M-1004', 'M-1005']) {
    await api(base, 'POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId });
  }
  await load('M-1001', 'TX-1001-1', 30_000, 'DEBIT_CARD');
  await load('M-1001', 'TX-1001-2', 25_000, 'APPLE_PAY');
  await load('M-1002', 'TX-1002-1', 12_500, 'GOOGLE_PAY');
  await load('M-1003', 'TX-1003-1', 60_000, 'BPAY');
  await load('M-1005', 'TX-1005-1', 50_000, 'DEBIT_CARD');
  await load('M-1005', 'TX-1005-2', 20_000, 'DEBIT_CARD');
  await api(base, 'POST', '/v1/transactions', {
    transactionId: 'TX-1004-1',
    memberId: 'M-1004',
    kind: 'WITHDRAWAL',
    amountCents: 5_000,
    currency: 'AUD',
    channel: 'ATM',
    occurredAt: at(),
  });
  await until('M-1001 to reach GOAL_ACHIEVED', async () => {
    const view = await api(base, 'GET', `/v1/campaigns/${CAMPAIGN}/members/M-1001`);
    return view.state === 'GOAL_ACHIEVED';
  });
}

const debugFile = (file) => path.join(os.tmpdir(), `debug-${path.basename(file)}`);

/** Clicks the link, tab or button whose text is exactly `text` (the Web UI's tabs have no stable ids). */
const clickText = (text) => async (page) => {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('a, button, [role="tab"]')].some((e) => e.textContent?.trim().startsWith(t)),
    { timeout: 15_000 },
    text,
  );
  await page.evaluate((t) => {
    const el = [...document.querySelectorAll('a, button, [role="tab"]')].find((e) =>
      e.textContent?.trim().startsWith(t),
    );
    el?.click();
  }, text);
};

async function shoot(browser, url, waitForText, file, prepare = async () => undefined, storage = {}) {
  const page = await browser.newPage();
  // What the UI keeps in localStorage (the list's columns), in place before its first script runs.
  await page.evaluateOnNewDocument((entries) => {
    for (const [key, value] of Object.entries(entries)) localStorage.setItem(key, JSON.stringify(value));
  }, storage);
  await page.setViewport({ width: 1440, height: 1000, deviceScaleFactor: 1 });
  // The list reads search attributes from visibility, a moment behind the workflow: reload until the text shows.
  await until(
    `"${waitForText}" on ${url} (what the page showed: ${debugFile(file)})`,
    async () => {
      // The UI polls the server all the time: the network never goes idle, so wait for what the picture must show.
      await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
      await prepare(page).catch(() => undefined);
      // Polled from here rather than with waitForFunction: clicking a tab navigates inside the app, which destroys
      // the page's execution context under a waiting function.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        // Every frame's HTML: the UI renders a workflow's markdown (summary, details) in frames of their own.
        const html = await Promise.all(page.frames().map((f) => f.content().catch(() => '')));
        const shown = html.some((h) => h.includes(waitForText));
        if (shown) return true;
        await new Promise((r) => setTimeout(r, 500));
      }
      await page.screenshot({ path: debugFile(file) }).catch(() => undefined);
      return false;
    },
    90_000,
  );
  await new Promise((r) => setTimeout(r, 1_000)); // let transitions settle
  await page.screenshot({ path: file });
  await page.close();
  say(`wrote ${path.relative(root, file)}`);
}

async function main() {
  const executablePath = chromiumPath();
  const { loadConfig } = await import(path.join(root, 'dist/src/config.js'));
  const { startStack } = await import(path.join(root, 'dist/src/dev/stack.js'));
  const { logger } = await import(path.join(root, 'dist/src/logger.js'));
  const { freeStackPorts } = await import(path.join(root, 'dist/src/dev/tools.js'));
  logger.level = 'warn';
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'screenshots-'));
  execFileSync('chmod', ['755', tmp]); // embedded PostgreSQL runs as its own user
  const config = loadConfig({
    DATA_DIR: tmp,
    ...(await freeStackPorts()),
    LOG_LEVEL: 'warn',
  });
  let stack;
  let browser;
  try {
    say('starting the local stack…');
    stack = await startStack(config, { say: (l) => say(`  ${l}`) });
    if (!stack.uiUrl) throw new Error('the stack runs no Web UI');
    say('enrolling members…');
    await populate(stack.apiUrl);
    mkdirSync(outDir, { recursive: true });
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    const workflowId = `activation:${CAMPAIGN}:M-1001`;
    await shoot(
      browser,
      `${stack.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`,
      'GOAL_ACHIEVED',
      path.join(outDir, 'web-ui-member.png'),
      // Where the UI shows the workflow's summary and its current details.
      clickText('User Metadata'),
    );
    await shoot(
      browser,
      `${stack.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(QUERY)}`,
      `activation:${CAMPAIGN}:M-1005`,
      path.join(outDir, 'web-ui-query.png'),
    );
    await shoot(
      browser,
      `${stack.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(VIEW_QUERY)}`,
      'CountedCents',
      path.join(outDir, 'web-ui-list-view.png'),
      async () => undefined,
      operatorsView(),
    );
    await shoot(
      browser,
      `${stack.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`,
      'Record load AUD 250.00 by APPLE_PAY',
      path.join(outDir, 'web-ui-timeline.png'),
    );
  } finally {
    await browser?.close().catch(() => undefined);
    await stack?.stop().catch((err) => say(`stopping: ${err.message}`));
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    say(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
