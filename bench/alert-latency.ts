/**
 * End-to-end alert latency: from the first published event of an error-rate jump to the alert
 * frame on a WebSocket client.
 *
 *   npm run bench -- alert-latency [--quick] [--jumps 5] [--rates 5000,20000]
 *
 * Real processes, as deployed: a private nats-server (loopback, temp storage, 16 partitions), one
 * `npm run worker` process (one partition thread), one `npm run gateway` process (the spawning
 * code of the scale-out tests, test/helpers/scale-cluster.ts), production pane settings (10 s
 * panes, flushed within 1 s, every 250 ms while few panes changed: panes.minFlushIntervalMs) and one alert rule: error rate of the 1m window above 0.1 % over at
 * least 50 predictions, `for: 0s` (so nothing is subtracted: the rule's `for` counts in event-time
 * pane ends, see the README, and a `for` of 0 measures the pipeline alone). A WebSocket client
 * subscribes to every model's alerts.
 *
 * Per rate, a steady publisher (DriftPublisher, 10 ms ticks; a late tick is made up by the next
 * ones, at most 100 ms of events at once) spreads the rate over the rate's
 * models with no errors; after a warm-up filling the 1m window, each jump, at a random moment
 * (2-5 s after the previous alert), makes every event of one model (a fresh one per jump) a failed
 * inference. Per jump:
 * - total: first published event of the jump -> the alert frame on the client;
 * - crossing: the moment the published stream itself met the rule (the 1m window as the gateway
 *   sees it, pane-aligned, holding > 0.1 % errors): total minus this is the pipeline's share;
 * - the raw limit, in the same run: first jump event -> a plain core NATS subscriber on the same
 *   subject receiving it;
 * - where the time goes: first jump event -> the first pane state of that model on the pane
 *   changelog holding errors (worker consume + pane flush interval), then -> the alert frame
 *   (gateway changelog consumer, its 1 s tick, rule evaluation, WebSocket broadcast).
 * p50/p99 over the jumps (p99 of a handful is their maximum). Target: p99 <= 1 s.
 * Ends with one JSON line.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { WebSocket } from 'ws';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { startDeployment } from '../test/helpers/scale-cluster.ts';
import { provision } from '../src/cluster/provision.ts';
import { DriftPublisher } from '../src/client/index.ts';
import { decodePaneMessage } from '../src/contract/pane-codec.ts';
import type { PaneInputWire } from '../src/contract/pane-wire.ts';

const PARTITIONS = 16;
const PANE_MS = 10_000;
const WINDOW_MS = 60_000;
const THRESHOLD = 0.001;
const MIN_COUNT = 50;
const RULE = 'bench_error_rate';
const TICK_MS = 10;
/** Ticks' worth of events a late publisher may catch up at once. */
const CATCH_UP_TICKS = 10;
const BACKGROUND_MODELS = 2;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    jumps: { type: 'string' },
    rates: { type: 'string', default: '5000,20000' },
    warmup: { type: 'string' },
  },
});
const jumps = Number(args.jumps ?? (args.quick ? 3 : 6));
const rates = args.rates.split(',').map(Number);
const warmupSeconds = Number(args.warmup ?? (args.quick ? 15 : 25));
for (const [name, value] of [['jumps', jumps], ['warmup', warmupSeconds], ...rates.map((r) => ['rates', r] as const)] as const) {
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`--${name} must be a positive number, got ${String(value)}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface Jump {
  model: string;
  /** Wall clock of the first published event of the jump (epoch ms, this process). */
  startedAt: number;
  /** When the published stream met the rule (pane-aligned 1m window above the threshold). */
  crossedAt?: number;
  /** A plain core NATS subscriber received the first jump event. */
  rawAt?: number;
  /** The first pane state of the model holding errors arrived on the changelog. */
  paneAt?: number;
  alertAt?: number;
  /** The gateway's /metrics right after the alert: changelog messages not applied, age of its statistics backlog. */
  changelogLag?: number;
  backlogAgeMs?: number;
}

/** A gauge's value from Prometheus text (the first sample of that name), undefined when absent. */
function gauge(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function gatewayState(gatewayUrl: string): Promise<{ changelogLag?: number; backlogAgeMs?: number }> {
  try {
    const text = await (await fetch(`${gatewayUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const age = gauge(text, 'drift_computation_backlog_age_seconds');
    return { changelogLag: gauge(text, 'drift_changelog_lag'), backlogAgeMs: age === undefined ? undefined : Math.round(age * 1000) };
  } catch {
    return {};
  }
}

/** Per model, per pane start: events and errors published, to tell when the window meets the rule. */
class PublishedWindows {
  private readonly panes = new Map<string, Map<number, { count: number; errors: number }>>();

  add(model: string, ts: number, error: boolean): void {
    let byPane = this.panes.get(model);
    if (byPane === undefined) this.panes.set(model, (byPane = new Map()));
    const start = ts - (ts % PANE_MS);
    const pane = byPane.get(start) ?? { count: 0, errors: 0 };
    pane.count++;
    if (error) pane.errors++;
    byPane.set(start, pane);
  }

  /** The 1m window ending with the pane of `ts` (as the gateway's windows are) meets the rule. */
  meetsRule(model: string, ts: number): boolean {
    const end = ts - (ts % PANE_MS) + PANE_MS;
    let count = 0;
    let errors = 0;
    for (const [start, pane] of this.panes.get(model) ?? []) {
      if (start < end - WINDOW_MS || start >= end) continue;
      count += pane.count;
      errors += pane.errors;
    }
    return count >= MIN_COUNT && errors / count > THRESHOLD;
  }
}

interface RateResult {
  rate: number;
  achievedRate: number;
  jumps: number;
  totalP50Ms: number;
  totalP99Ms: number;
  afterCrossingP50Ms: number;
  afterCrossingP99Ms: number;
  rawP50Ms: number;
  rawP99Ms: number;
  toPaneP50Ms: number;
  toPaneP99Ms: number;
  paneToAlertP50Ms: number;
  paneToAlertP99Ms: number;
  missed: number;
  /** Largest gateway changelog lag (messages) and statistics backlog age seen right after an alert. */
  changelogLagMax: number;
  backlogAgeMaxMs: number;
}

async function runRate(nc: NatsConnection, publisher: DriftPublisher, gatewayUrl: string, rate: number, phase: number): Promise<RateResult> {
  const models = Array.from({ length: jumps + BACKGROUND_MODELS }, (_, m) => `lat${phase}-m${m}`);
  const failing = new Set<string>();
  const published = new PublishedWindows();
  const pending: Jump[] = [];
  const done: Jump[] = [];
  let current: Jump | undefined;
  let firstJumpId: string | undefined;

  // the pane changelog, seen by a plain core subscriber
  const subscriptions: Subscription[] = [];
  for (const model of models) {
    subscriptions.push(
      nc.subscribe(`drift.pane.*.${model}.>`, {
        callback: (_err, msg) => {
          const at = Date.now();
          if (current === undefined || current.model !== model || current.paneAt !== undefined) return;
          const message = decodePaneMessage(msg.data);
          if (message.part === 'in' && (message.state as PaneInputWire).errors > 0) current.paneAt = at;
        },
      }),
    );
  }

  // the WebSocket client: every alert frame of this phase's models
  const ws = new WebSocket(`${gatewayUrl.replace('http://', 'ws://')}/v1/live`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const subscribed = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      const at = Date.now();
      const frame = JSON.parse(data.toString()) as { type: string; alert?: { model: string; rule: string; state: string } };
      if (frame.type === 'subscribed') resolve();
      if (frame.type !== 'alert' || frame.alert === undefined) return;
      const { model, rule, state } = frame.alert;
      if (rule !== RULE || state !== 'firing' || current === undefined || model !== current.model || current.alertAt !== undefined) return;
      current.alertAt = at;
    });
  });
  ws.send(JSON.stringify({ type: 'subscribe', models: models, topics: ['alerts'] }));
  await subscribed;

  // the steady publisher
  let running = true;
  let sent = 0;
  let sequence = 0;
  let owed = 0;
  const publishing = (async () => {
    let next = Date.now();
    let last = next;
    while (running) {
      // what the elapsed time owes, so a tick that ran late (a GC pause, a burst of acks) is made
      // up by the next ones; at most CATCH_UP_TICKS ticks' worth, so a long stall is not one burst
      const now = Date.now();
      owed = Math.min(owed + (rate * (now - last)) / 1000, (rate * TICK_MS * CATCH_UP_TICKS) / 1000);
      last = now;
      const batch = Math.floor(owed);
      owed -= batch;
      const sends: Array<Promise<void>> = [];
      for (let i = 0; i < batch; i++) {
        const model = models[sequence++ % models.length];
        const error = failing.has(model);
        const id = randomUUID();
        const ts = Date.now();
        published.add(model, ts, error);
        if (error && current !== undefined && current.model === model) {
          if (firstJumpId === undefined) {
            firstJumpId = id;
            current.startedAt = ts;
          }
          if (current.crossedAt === undefined && published.meetsRule(model, ts)) current.crossedAt = ts;
        }
        sends.push(publisher.publishPrediction({ id, model, ts, latencyMs: 20 + (sequence % 30), features: { x: sequence % 100 }, ...(error ? { error: 'bench jump' } : { output: 0.5 }) }));
        sent++;
      }
      await Promise.all(sends);
      next += TICK_MS;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else next = Date.now(); // behind: the next tick sends what the elapsed time owes
    }
  })();

  console.log(`  ${rate} events/s over ${models.length} models: ${warmupSeconds} s warm-up`);
  await sleep(warmupSeconds * 1000);
  const measuredFrom = Date.now();
  const sentBefore = sent;
  for (let j = 0; j < jumps; j++) {
    await sleep(2000 + Math.random() * 3000);
    const jump: Jump = { model: models[BACKGROUND_MODELS + j], startedAt: NaN };
    // the raw limit: a plain core subscriber on the jumping model's subjects, subscribed before the jump
    const raw = nc.subscribe(`drift.in.*.${jump.model}.pred`, {
      callback: (_err, msg) => {
        if (jump.rawAt !== undefined || firstJumpId === undefined) return;
        if (Buffer.from(msg.data).includes(Buffer.from(firstJumpId))) jump.rawAt = Date.now();
      },
    });
    await nc.flush();
    current = jump;
    firstJumpId = undefined;
    failing.add(jump.model);
    const deadline = Date.now() + 60_000;
    while (jump.alertAt === undefined && Date.now() < deadline) await sleep(20);
    failing.delete(jump.model);
    raw.unsubscribe();
    Object.assign(jump, await gatewayState(gatewayUrl));
    (jump.alertAt === undefined ? pending : done).push(jump);
    const ms = (at: number | undefined) => (at === undefined ? 'n/a' : `${at - jump.startedAt} ms`);
    console.log(`    jump ${j + 1}/${jumps} (${jump.model}): alert after ${ms(jump.alertAt)} (stream met the rule after ${ms(jump.crossedAt)}, raw NATS ${ms(jump.rawAt)}, pane on the changelog ${ms(jump.paneAt)}; gateway then: changelog lag ${jump.changelogLag ?? 'n/a'} messages, statistics backlog ${jump.backlogAgeMs ?? 'n/a'} ms old)`);
    await sleep(200); // the straggling frames of this jump arrive before the next one starts
  }
  const achievedRate = ((sent - sentBefore) * 1000) / (Date.now() - measuredFrom);
  running = false;
  await publishing;
  current = undefined;
  ws.close();
  for (const s of subscriptions) s.unsubscribe();

  const of = (f: (j: Jump) => number | undefined) => done.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const total = of((j) => (j.alertAt as number) - j.startedAt);
  const afterCrossing = of((j) => (j.crossedAt === undefined ? undefined : (j.alertAt as number) - j.crossedAt));
  const raw = of((j) => (j.rawAt === undefined ? undefined : j.rawAt - j.startedAt));
  const toPane = of((j) => (j.paneAt === undefined ? undefined : j.paneAt - j.startedAt));
  const paneToAlert = of((j) => (j.paneAt === undefined ? undefined : (j.alertAt as number) - j.paneAt));
  const round = (v: number) => Math.round(v);
  return {
    rate,
    achievedRate: round(achievedRate),
    jumps: done.length,
    totalP50Ms: round(quantile(total, 0.5)),
    totalP99Ms: round(quantile(total, 0.99)),
    afterCrossingP50Ms: round(quantile(afterCrossing, 0.5)),
    afterCrossingP99Ms: round(quantile(afterCrossing, 0.99)),
    rawP50Ms: round(quantile(raw, 0.5)),
    rawP99Ms: round(quantile(raw, 0.99)),
    toPaneP50Ms: round(quantile(toPane, 0.5)),
    toPaneP99Ms: round(quantile(toPane, 0.99)),
    paneToAlertP50Ms: round(quantile(paneToAlert, 0.5)),
    paneToAlertP99Ms: round(quantile(paneToAlert, 0.99)),
    missed: pending.length,
    changelogLagMax: Math.max(0, ...of((j) => j.changelogLag)),
    backlogAgeMaxMs: Math.max(0, ...of((j) => j.backlogAgeMs)),
  };
}

async function main(): Promise<void> {
  const load = os.loadavg()[0].toFixed(2);
  console.log(`alert-latency bench: rates ${rates.join(', ')} events/s, ${jumps} jumps each, ${os.cpus().length} cores, load average ${load} at start`);
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  let deployment: Awaited<ReturnType<typeof startDeployment>> | undefined;
  try {
    await provision(nc, { partitions: PARTITIONS });
    const rule = { name: RULE, description: 'bench: error rate above 0.1 %', metric: 'errorRate', scope: 'model', window: '1m', op: '>', threshold: THRESHOLD, minCount: MIN_COUNT, for: '0s', severity: 'critical' };
    deployment = await startDeployment({
      natsUrl: server.url,
      logLevel: 'info', // the worker's endpoint is announced at info (the gateway logs at warn)
      // production pane settings (startDeployment's default flushes every 500 ms)
      config: { panes: { flushIntervalMs: 1000, allowedLatenessMs: '1m' }, alerts: { rules: [rule] } },
    });
    await deployment.startWorker('lat-w1');
    await deployment.waitForCoverage(PARTITIONS);
    const publisher = await DriftPublisher.connect(nc, { partitions: PARTITIONS, maxInFlight: 4096 });
    const results: RateResult[] = [];
    for (const [phase, rate] of rates.entries()) {
      const r = await runRate(nc, publisher, deployment.gatewayUrl, rate, phase);
      results.push(r);
      console.log(
        `${rate} events/s (achieved ${r.achievedRate}): alert p50 ${r.totalP50Ms} ms p99 ${r.totalP99Ms} ms after the first jump event ` +
          `(${r.afterCrossingP50Ms} / ${r.afterCrossingP99Ms} ms after the stream met the rule); raw NATS p50 ${r.rawP50Ms} ms p99 ${r.rawP99Ms} ms ` +
          `(ratio p99 ${(r.totalP99Ms / Math.max(1, r.rawP99Ms)).toFixed(1)}); to the pane changelog p50 ${r.toPaneP50Ms} p99 ${r.toPaneP99Ms} ms, ` +
          `pane -> alert frame p50 ${r.paneToAlertP50Ms} p99 ${r.paneToAlertP99Ms} ms (gateway changelog lag max ${r.changelogLagMax}, statistics backlog max ${r.backlogAgeMaxMs} ms); ${r.missed} jumps without an alert within 60 s; target p99 <= 1000 ms: ${r.totalP99Ms <= 1000 && r.missed === 0 ? 'met' : 'NOT met'}`,
      );
    }
    await publisher.close();
    console.log(JSON.stringify({ bench: 'alert-latency', quick: args.quick, loadAverageAtStart: Number(load), loadAverageAtEnd: Number(os.loadavg()[0].toFixed(2)), results }));
  } finally {
    await deployment?.stopAll().catch(() => undefined);
    deployment?.destroy();
    await nc.close();
    await server.stop();
  }
}

await main();
