/**
 * The dashboard in a real headless Chromium against a running pipeline (nats-server, worker and
 * gateway in-process) fed by the simulator: token prompt and 401, models list, live charts, a
 * drift alert in the timeline, and the lost-feed indicator when the gateway's WebSocket stops.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { eventually, startPipeline } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { runSimulator } from '../../src/simulator/run.ts';
import type { DriftSchedule } from '../../src/simulator/drift.ts';
import { LiveFeed } from '../../src/gateway/live.ts';
import { createTokenAuthenticator } from '../../src/gateway/auth.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token';
const SCREENSHOT_DIR = process.env.DASHBOARD_SCREENSHOT_DIR ?? '/tmp/driftwatch-dashboard';
// Predictions of fraud's 1m window the test takes as its reference (captureReference).
const REFERENCE_MIN_ROWS = 300;
// A fast PSI rule on the 1m window so the simulator's covariate drift fires within seconds.
const RULES = [
  { name: 'feature_psi', description: 'PSI of a feature above 0.2', metric: 'drift.feature.psi', scope: 'feature', window: '1m', op: '>', threshold: 0.2, minCount: 100, for: '0s', severity: 'warning' },
];

describe('dashboard in headless Chromium', () => {
  let pipeline: Pipeline;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const simulation = new AbortController();
  let simulator: Promise<unknown> | undefined;
  let restartedFeed: LiveFeed | undefined;
  let reference: { id: string; count: number };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
    }
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    // Chromium first: its launch loads a small CI machine while the simulator's traffic starts
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    pipeline = await startPipeline(
      // segmentSketchValues: the workers keep per-segment feature summaries (worst-segment feature drift).
      // No automatic reference: it would be the first 4 s of traffic however little of it arrived
      // (CI once saw a reference of a handful of rows after a stall, and no drift against it)
      { partitions: { count: 2 }, reference: { autoCaptureMs: 0 }, alerts: { rules: RULES }, limits: { segmentSketchValues: 2 } },
      { DRIFTWATCH_TOKEN: TOKEN },
    );
    const simulate = (seed: number, drift: DriftSchedule, signal: AbortSignal) => runSimulator({
      publisher: pipeline.publisher,
      rate: 200,
      seed,
      models: ['fraud', 'churn'],
      canaryFraction: 0.2,
      labels: { delayMedianMs: 300 },
      drift: [
        ...drift,
        // churn's segment group=b gets 30 % of its answers wrong from the start: its worst segment
        { at: 0, kind: 'segment', magnitude: 0.3, model: 'churn' },
      ],
      logger: { info: () => {} },
      signal,
    });
    // undrifted traffic until fraud's reference is taken from it, then the same traffic with f0 of
    // fraud shifted by 3 standard deviations: the order holds however slowly a loaded machine runs
    // (with the shift at a fixed time, a loaded run took the reference after it)
    const beforeDrift = new AbortController();
    const undrifted = simulate(5, [], beforeDrift.signal);
    reference = await captureReference(pipeline.baseUrl).finally(() => beforeDrift.abort());
    await undrifted;
    simulator = simulate(6, [{ at: 0, kind: 'covariate', feature: 'f0', magnitude: 3, model: 'fraud' }], simulation.signal);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 90_000);

  afterAll(async () => {
    simulation.abort();
    await simulator?.catch(() => undefined);
    await browser?.close();
    await restartedFeed?.stop();
    // A connection that never sent a request (seen once Chromium is gone) would hold the gateway's
    // close until Node's 60 s headersTimeout: drop what is left, the page is closed anyway.
    pipeline?.app.gateway.app.server.closeAllConnections();
    await pipeline?.stop();
  }, 120_000);

  it('serves the page and its assets with content types, cache headers and no traversal', async () => {
    const index = await fetch(`${pipeline.baseUrl}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const etag = index.headers.get('etag') as string;
    expect((await fetch(`${pipeline.baseUrl}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const script = await fetch(`${pipeline.baseUrl}/static/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toMatch(/max-age=\d+/);
    for (const bad of ['/static/..%2Fserver.ts', '/static/%2E%2E%2F%2E%2E%2Fpackage.json', '/static/.hidden.js', '/static/missing.js']) {
      expect((await fetch(`${pipeline.baseUrl}${bad}`)).status, bad).toBe(404);
    }
  });

  it('asks for the token on 401, then works with it', async () => {
    expect((await fetch(`${pipeline.baseUrl}/v1/models`)).status).toBe(401);
    await page.goto(pipeline.baseUrl);
    await page.locator('#auth-error').getByText('401').waitFor({ timeout: 10_000 });
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('lost');
    expect(await page.locator('#models tbody tr').count()).toBe(0);

    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button');
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('#auth-error').isHidden()).toBe(true);
  });

  it('lists the simulated models and fills the live charts', async () => {
    await page.locator('#models tr[data-model="fraud"]').waitFor({ timeout: 30_000 });
    await page.locator('#models tr[data-model="churn"]').waitFor({ timeout: 30_000 });
    // the rows stay put while frames update them (a row rebuilt on every frame slips out from under a click)
    const row = await page.$('#models tr[data-model="fraud"]');
    const framesBefore = await page.evaluate('document.querySelector(\'#models tr[data-model="fraud"] td:nth-child(4)\').textContent');
    await page.waitForFunction(`document.querySelector('#models tr[data-model="fraud"] td:nth-child(4)').textContent !== ${JSON.stringify(framesBefore)}`, undefined, { timeout: 30_000 });
    expect(await row!.evaluate((e: { isConnected: boolean }) => e.isConnected)).toBe(true);
    await page.click('#models tr[data-model="fraud"]');
    // each chart's series is an SVG path through the points received on the feed
    for (const chart of ['#chart-volume', '#chart-errors', '#chart-latency', '#chart-quality']) {
      // a string expression: the test is compiled without the DOM library
      await page.waitForFunction(
        `[...document.querySelectorAll('${chart} path.series')].some((p) => Number(p.getAttribute('data-points')) >= 3 && p.getAttribute('d').split('L').length >= 3)`,
        undefined,
        { timeout: 30_000 },
      );
    }
    expect(await page.locator('#chart-latency path.series').count()).toBe(3);
    await page.locator('#versions tr[data-version="v2"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('#versions tr[data-version="v1"] td').nth(1).textContent()).toBe('stable');
  });

  it('shows the simulated covariate drift in the drift table and as an alert in the timeline', async () => {
    // the drifted feature's alert (with a reference of a few seconds, another feature may alert on noise too)
    const alert = page.locator('#alert-timeline li[data-rule="feature_psi"][data-state="firing"][data-model="fraud"]', { hasText: 'feature:f0' });
    await alert.first().waitFor({ timeout: 90_000 });
    const text = await alert.first().textContent();
    expect(text).toContain('feature:f0');
    expect(text).toContain('threshold 0.200');
    expect(text).toContain('warning');
    await page.locator('#drift-table tr[data-feature="f0"] td.drift-yes').waitFor({ timeout: 30_000 });
    // most drifted first, and the overview names the same worst feature (with a reference of a few
    // seconds a categorical feature can outdrift f0 on noise, so the test does not insist on which)
    await page.waitForFunction(
      `(() => { const row = document.querySelector('#drift-table tbody tr'); const f = row && row.getAttribute('data-feature');
        return !!f && !!row.querySelector('td.drift-yes') && document.querySelector('#models tr[data-model="fraud"]').textContent.includes(f); })()`,
      undefined,
      { timeout: 15_000 },
    );
    // the reference the test captured, as the page describes it
    expect(await page.locator('#drift-reference').textContent()).toContain(`against reference ${reference.id} (window, ${reference.count.toLocaleString('en-US')} rows`);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/dashboard.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('draws the window-vs-reference histogram of the selected feature', async () => {
    await page.click('#drift-table tr[data-feature="f0"]');
    // ten decile bins of the reference, each with the reference's and the window's share
    await page.waitForFunction(`document.querySelector('#chart-histogram svg')?.getAttribute('data-bins') === '10'`, undefined, { timeout: 15_000 }).catch(async (error: unknown) => {
      // what was drawn instead, for the failure's message
      const seen = await page.evaluate(`[document.querySelector('#chart-histogram svg')?.getAttribute('data-bins') ?? 'no chart', document.querySelector('#histogram-note')?.textContent, document.querySelector('#drift-table tr.selected')?.getAttribute('data-feature')]`);
      throw new Error(`${(error as Error).message}; drawn: bins, note, selected feature = ${JSON.stringify(seen)}`);
    });
    expect(await page.locator('#chart-histogram rect.bar-reference').count()).toBe(10);
    expect(await page.locator('#chart-histogram rect.bar-window').count()).toBe(10);
    // f0 shifted by 3 standard deviations once the reference was taken: the window's share of the reference's top decile
    // is far above the reference's own tenth (the 5m window also holds the traffic before the shift)
    const share = async (kind: string) => Number(/ ([\d.]+) %/.exec((await page.locator(`#chart-histogram rect.bar-${kind}`).nth(9).locator('title').textContent()) ?? '')?.[1]);
    // (the reference holds a few hundred rows, so its own deciles are ~10 % give or take a few:
    // 15.0 was seen once on a loaded CI run)
    expect(await share('reference')).toBeLessThan(20);
    // drift is recomputed every few seconds (windowMs / 60) as the shifted traffic fills the window
    await expect.poll(() => share('window'), { timeout: 30_000, interval: 1000 }).toBeGreaterThan(30);
    expect(await page.locator('#drift-detail figcaption').textContent()).toMatch(/Feature f0: window vs reference fraud\./);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/dashboard-histogram.png`, fullPage: true });
  });

  it('silences and acknowledges the drift alert from the page, which then shows it silenced and acknowledged', async () => {
    await page.fill('#operator-input', 'ana');
    await page.press('#operator-input', 'Enter');
    const item = () => page.locator('#alert-timeline li[data-rule="feature_psi"][data-state="firing"][data-model="fraud"][data-active="true"]', { hasText: 'feature:f0' }).first();
    await item().locator('button.silence').waitFor({ timeout: 20_000 });
    expect(await item().getAttribute('data-silenced')).toBe('false');
    await item().locator('button.silence').click();
    await page.locator('#alert-timeline li[data-rule="feature_psi"][data-model="fraud"][data-silenced="true"]', { hasText: 'feature:f0' }).first().waitFor({ timeout: 15_000 });
    expect(await item().locator('.state-silenced').textContent()).toBe('silenced');
    // the API says the same: a silence by the operator, covering that alert
    const headers = { authorization: `Bearer ${TOKEN}` };
    const silences = (await (await fetch(`${pipeline.baseUrl}/v1/silences?state=active`, { headers })).json()) as { silences: Array<{ id: string; createdBy: string; matchers: Record<string, string> }> };
    expect(silences.silences).toHaveLength(1);
    expect(silences.silences[0]).toMatchObject({ createdBy: 'ana', matchers: { model: 'fraud', rule: 'feature_psi', scope: 'feature:f0' } });
    const alerts = (await (await fetch(`${pipeline.baseUrl}/v1/alerts?model=fraud&rule=feature_psi`, { headers })).json()) as { active: Array<{ scope: string; silencedBy: string[] }> };
    expect(alerts.active.find((a) => a.scope === 'feature:f0')?.silencedBy).toEqual([silences.silences[0].id]);

    await item().locator('button.ack').click();
    await page.locator('#alert-timeline li[data-rule="feature_psi"][data-model="fraud"][data-acknowledged="true"]', { hasText: 'feature:f0' }).first().waitFor({ timeout: 15_000 });
    expect(await item().locator('.state-acked').textContent()).toBe('acknowledged by ana');
    await page.screenshot({ path: `${SCREENSHOT_DIR}/dashboard-silenced.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('switches the window: the selector lists the gateway windows and the charts refill from the chosen one', async () => {
    expect(await page.locator('#window-select option').allTextContents()).toEqual(['1m', '5m', '1h']);
    expect(await page.locator('#window-select').inputValue()).toBe('5m');
    await page.selectOption('#window-select', '1m');
    await page.waitForFunction(`Number(document.querySelector('#chart-volume path.series')?.getAttribute('data-points')) >= 2`, undefined, { timeout: 20_000 });
    expect(await page.locator('#window-select').inputValue()).toBe('1m');
    expect(await page.locator('#drift-reference').textContent()).toMatch(/reference fraud\./);
    expect(pageErrors).toEqual([]);
  });

  it('shows a lost feed when the gateway stops its WebSocket, and recovers when it is back', async () => {
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('live');
    const gateway = pipeline.app.gateway.app;
    await gateway.liveFeed.stop();
    // state and text read together: the page retries within a second or so, so by a later read
    // it may already say "connecting…" again (seen on a slow CI machine)
    await page.locator('#connection[data-state="lost"]', { hasText: /feed lost.*reconnecting/ }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: `${SCREENSHOT_DIR}/dashboard-lost.png` });

    // a new feed on the same HTTP server, as after a gateway restart: the page reconnects by itself
    restartedFeed = new LiveFeed(pipeline.app.gateway.source, gateway.pipelineMetrics, createTokenAuthenticator(TOKEN), gateway.log);
    restartedFeed.start(gateway.server);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 30_000 });
    const before = Number(await page.locator('#chart-volume path.series').getAttribute('data-points'));
    await page.waitForFunction(`Number(document.querySelector('#chart-volume path.series').getAttribute('data-points')) > ${before}`, undefined, { timeout: 20_000 });
  });

  it("shows churn's simulated worst segment (group b, 30 % of answers made wrong) first in the worst-segments table", async () => {
    await page.click('#models tr[data-model="churn"]');
    const first = page.locator('#segments tbody tr').first();
    await expect.poll(async () => [await first.getAttribute('data-key'), await first.getAttribute('data-segment'), await first.getAttribute('data-significant')], { timeout: 30_000, interval: 1000 })
      .toEqual(['group', 'b', 'true']);
    expect(await first.locator('td').nth(7).textContent()).toBe('DROP');
    expect(await first.locator('td').nth(3).textContent()).toMatch(/^\d+\.\d pts$/);
    expect(await page.locator('#segments tbody tr[data-segment="a"]').getAttribute('data-significant')).toBe('false');
    // the workers' panes carry group b's feature summaries: the page lists the features against the
    // window before, or (a run younger than two windows) says that window holds none yet
    await expect.poll(() => page.locator('#segment-features').textContent(), { timeout: 15_000 })
      .toMatch(/^Drift inside group=b(: no feature summaries of segment group=b in the window before this one| \(vs the window before\): \w+ PSI)/);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/dashboard-segments.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});

/**
 * Takes fraud's 1m window as its reference once it holds REFERENCE_MIN_ROWS predictions, as an
 * operator would (POST /v1/models/fraud/baseline).
 */
async function captureReference(baseUrl: string): Promise<{ id: string; count: number }> {
  const headers = { authorization: `Bearer ${TOKEN}` };
  await eventually(async () => {
    const response = await fetch(`${baseUrl}/v1/models/fraud/metrics?window=1m`, { headers });
    if (response.status !== 200) return undefined;
    const { count } = (await response.json()) as { count: number };
    return count >= REFERENCE_MIN_ROWS ? count : undefined;
  }, 60_000, `fraud's 1m window to hold ${REFERENCE_MIN_ROWS} predictions`);
  const response = await fetch(`${baseUrl}/v1/models/fraud/baseline`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ window: '1m' }) });
  const profile = (await response.json()) as { id: string; count: number };
  if (response.status !== 201) throw new Error(`capturing fraud's reference answered ${response.status}: ${JSON.stringify(profile)}`);
  return profile;
}
