/**
 * The WebSocket feed's cost: gateway CPU and memory with 100 and 1,000 clients subscribed to all
 * models (20 models updating), the frames per second each client receives, and the time for an
 * alert frame to reach the last client (p50/p99 over the alerts).
 *
 * The gateway runs in a child process (so its CPU and memory are its own): the real LiveFeed in
 * buildGateway over a synthetic source whose 20 models change every 250 ms (the feed throttles
 * each to one update a second). The raw limit, measured in the same run with the same clients,
 * is a plain `ws` server in a child process that sends the same frames at the same rate to every
 * client (no subscriptions, no throttle, no queues). The clients run in this process: they count
 * frames, parse only alert frames, and answer pings. Both processes share the machine's cores,
 * so on a 2-core machine the clients' parsing competes with the gateway.
 *
 *   npm run bench -- feed                  100 and 1,000 clients, 10 s per phase, 100 alerts
 *   npm run bench -- feed --quick          50 and 200 clients, 3 s, 20 alerts
 *   npm run bench -- feed --clients 500 --seconds 5 --alerts 50
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { WebSocket, WebSocketServer } from 'ws';
import { MetricsSourceEmitter } from '../src/contract/metrics-source.ts';
import type { AlertEvent, ModelMetrics, ModelSummary } from '../src/contract/metrics.ts';
import { buildGateway } from '../src/gateway/server.ts';
import { fullMetrics } from '../test/gateway/fake-source.ts';

const MODELS = 20;
const FEATURES = 10;
const UPDATE_EVERY_MS = 250;
const FEED_INTERVAL_MS = 1000;

type Mode = 'gateway' | 'raw';

/** Messages between this process and a server child. */
type ToChild = { cmd: 'measure' } | { cmd: 'report' } | { cmd: 'alert'; id: string; sentAt: number } | { cmd: 'exit' };
interface Usage {
  cpuMs: number;
  wallMs: number;
  rssMB: number;
  heapMB: number;
}
type FromChild = { port: number } | { usage: Usage };

const now = (): number => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- the server side (child)

class SyntheticSource extends MetricsSourceEmitter {
  private tick = 0;
  readonly names = Array.from({ length: MODELS }, (_, i) => `model-${i}`);

  windows(): string[] {
    return ['1m', '5m', '1h'];
  }
  listModels(): ModelSummary[] {
    return this.names.map((model) => ({ model, versions: ['v1'], lastEventAt: Date.now(), count5m: 1000 + this.tick }));
  }
  getMetrics(model: string, window: string, version?: string): ModelMetrics | undefined {
    return this.names.includes(model) ? fullMetrics(model, window, 1000 + this.tick, version ?? null, FEATURES) : undefined;
  }
  recentAlerts(): AlertEvent[] {
    return [];
  }
  ready(): boolean {
    return true;
  }
  update(): void {
    this.tick++;
    for (const m of this.names) this.emitMetrics(m);
  }
}

function alertOf(id: string, sentAt: number): AlertEvent {
  return { id, model: 'model-0', rule: 'feature_psi', scope: 'feature:f0', state: 'firing', severity: 'warning', value: sentAt, threshold: 0.2, window: '5m', startsAt: Date.now(), at: Date.now(), message: 'bench alert' };
}

async function serve(mode: Mode): Promise<void> {
  const send = (msg: FromChild): void => void process.send?.(msg);
  const source = new SyntheticSource();
  let port: number;
  let emitAlert: (alert: AlertEvent) => void;
  if (mode === 'gateway') {
    const app = await buildGateway({ source, registry: new Registry(), ws: { metricsIntervalMs: FEED_INTERVAL_MS } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
    setInterval(() => source.update(), UPDATE_EVERY_MS);
    emitAlert = (alert) => source.emitAlert(alert);
  } else {
    // The same frames at the feed's rate: per model, a metrics frame (no drift) and a drift frame
    // per interval, built once and sent to every client.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await new Promise((resolve) => wss.once('listening', resolve));
    port = (wss.address() as { port: number }).port;
    setInterval(() => {
      source.update();
      for (const model of source.names) {
        const metrics = source.getMetrics(model, '5m') as ModelMetrics;
        const { drift, ...rest } = metrics;
        const frames = [JSON.stringify({ type: 'metrics', model, window: '5m', metrics: rest }), JSON.stringify({ type: 'drift', model, window: '5m', version: null, drift })];
        for (const client of wss.clients) for (const frame of frames) client.send(frame);
      }
    }, FEED_INTERVAL_MS);
    emitAlert = (alert) => {
      const frame = JSON.stringify({ type: 'alert', model: alert.model, alert });
      for (const client of wss.clients) client.send(frame);
    };
  }
  let mark = { cpu: process.cpuUsage(), at: now() };
  process.on('message', (msg: ToChild) => {
    if (msg.cmd === 'measure') mark = { cpu: process.cpuUsage(), at: now() };
    else if (msg.cmd === 'report') {
      const cpu = process.cpuUsage(mark.cpu);
      const memory = process.memoryUsage();
      send({ usage: { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: now() - mark.at, rssMB: memory.rss / 2 ** 20, heapMB: memory.heapUsed / 2 ** 20 } });
    } else if (msg.cmd === 'alert') emitAlert(alertOf(msg.id, msg.sentAt));
    else process.exit(0);
  });
  send({ port });
}

// ---------------------------------------------------------------- the clients (this process)

class BenchClient {
  frames = 0;
  constructor(
    readonly ws: WebSocket,
    onAlert: (id: string, receivedAt: number) => void,
  ) {
    ws.on('message', (data) => {
      const receivedAt = now();
      this.frames++;
      const text = String(data);
      if (text.startsWith('{"type":"ping"')) ws.send('{"type":"pong"}');
      else if (text.startsWith('{"type":"alert"')) onAlert((JSON.parse(text) as { alert: AlertEvent }).alert.id, receivedAt);
    });
  }
}

class Server {
  private waiting: ((msg: FromChild) => void) | undefined;
  private constructor(readonly child: ChildProcess) {
    child.on('message', (msg: FromChild) => this.waiting?.(msg));
  }
  static async start(mode: Mode): Promise<{ server: Server; port: number }> {
    const child = fork(fileURLToPath(import.meta.url), ['--child', mode], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const server = new Server(child);
    const { port } = (await server.next()) as { port: number };
    return { server, port };
  }
  next(): Promise<FromChild> {
    return new Promise((resolve) => (this.waiting = resolve));
  }
  send(msg: ToChild): void {
    this.child.send(msg);
  }
  async usage(): Promise<Usage> {
    const reply = this.next();
    this.send({ cmd: 'report' });
    return ((await reply) as { usage: Usage }).usage;
  }
  stop(): void {
    this.send({ cmd: 'exit' });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

interface PhaseResult {
  clients: number;
  cpuPct: number;
  rssMB: number;
  heapMB: number;
  rssPerClientKB: number;
  framesPerSecPerClient: { mean: number; min: number };
  alertToLastClientMs: { p50: number; p99: number; max: number };
}

async function phase(mode: Mode, clients: number, seconds: number, alerts: number): Promise<PhaseResult> {
  const { server, port } = await Server.start(mode);
  try {
    await sleep(500);
    const idle = await server.usage();
    const arrivals = new Map<string, { count: number; last: number }>();
    const onAlert = (id: string, at: number): void => {
      const entry = arrivals.get(id);
      if (entry !== undefined) {
        entry.count++;
        entry.last = Math.max(entry.last, at);
      }
    };
    const connected: BenchClient[] = [];
    for (let i = 0; i < clients; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, clients - i) }, async () => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/live`, { perMessageDeflate: false });
          const client = new BenchClient(ws, onAlert);
          await new Promise<void>((resolve, reject) => {
            ws.once('open', () => resolve());
            ws.once('error', reject);
          });
          if (mode === 'gateway') ws.send(JSON.stringify({ type: 'subscribe', models: ['*'] }));
          return client;
        }),
      );
      connected.push(...batch);
    }
    await sleep(2000); // snapshots delivered, rates settled
    const before = connected.map((c) => c.frames);
    server.send({ cmd: 'measure' });
    const start = now();
    await sleep(seconds * 1000);
    const usage = await server.usage();
    const elapsed = (now() - start) / 1000;
    const rates = connected.map((c, i) => (c.frames - before[i]) / elapsed);

    const latencies: number[] = [];
    for (let i = 0; i < alerts; i++) {
      const id = `bench-${mode}-${clients}-${i}`;
      const sentAt = now();
      arrivals.set(id, { count: 0, last: 0 });
      server.send({ cmd: 'alert', id, sentAt });
      const deadline = Date.now() + 10_000;
      while ((arrivals.get(id)?.count ?? 0) < clients && Date.now() < deadline) await sleep(2);
      const entry = arrivals.get(id) as { count: number; last: number };
      latencies.push(entry.count < clients ? Number.POSITIVE_INFINITY : entry.last - sentAt);
      await sleep(50);
    }
    latencies.sort((a, b) => a - b);
    for (const c of connected) c.ws.terminate();
    return {
      clients,
      cpuPct: (100 * usage.cpuMs) / usage.wallMs,
      rssMB: usage.rssMB,
      heapMB: usage.heapMB,
      rssPerClientKB: ((usage.rssMB - idle.rssMB) * 1024) / clients,
      framesPerSecPerClient: { mean: rates.reduce((a, b) => a + b, 0) / rates.length, min: Math.min(...rates) },
      alertToLastClientMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? NaN },
    };
  } finally {
    server.stop();
  }
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : String(n));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, clients: { type: 'string' }, seconds: { type: 'string' }, alerts: { type: 'string' }, child: { type: 'string' } },
  });
  if (values.child !== undefined) {
    if (values.child !== 'gateway' && values.child !== 'raw') throw new Error(`--child must be gateway or raw, got ${values.child}`);
    await serve(values.child);
    return;
  }
  const sizes = values.clients !== undefined ? values.clients.split(',').map(Number) : values.quick ? [50, 200] : [100, 1000];
  const seconds = Number(values.seconds ?? (values.quick ? 3 : 10));
  const alerts = Number(values.alerts ?? (values.quick ? 20 : 100));
  for (const n of [...sizes, seconds, alerts]) if (!Number.isInteger(n) || n <= 0) throw new Error(`--clients, --seconds and --alerts take positive integers, got ${n}`);

  console.log(`feed bench: ${MODELS} models updating every ${UPDATE_EVERY_MS} ms (feed interval ${FEED_INTERVAL_MS} ms), clients subscribed to all models and topics; ${seconds} s per phase, ${alerts} alerts`);
  const results: Array<{ clients: number; gateway: PhaseResult; raw: PhaseResult; cpuRatio: number; alertP99Ratio: number }> = [];
  for (const clients of sizes) {
    const gateway = await phase('gateway', clients, seconds, alerts);
    const raw = await phase('raw', clients, seconds, alerts);
    const cpuRatio = gateway.cpuPct / raw.cpuPct;
    const alertP99Ratio = gateway.alertToLastClientMs.p99 / raw.alertToLastClientMs.p99;
    results.push({ clients, gateway, raw, cpuRatio, alertP99Ratio });
    for (const [name, r] of [['driftwatch', gateway], ['raw ws   ', raw]] as const) {
      console.log(
        `${String(clients).padStart(5)} clients ${name}: CPU ${fmt(r.cpuPct)} %, RSS ${fmt(r.rssMB)} MB (${fmt(r.rssPerClientKB)} KB/client), heap ${fmt(r.heapMB)} MB, ` +
          `${fmt(r.framesPerSecPerClient.mean)} frames/s per client (min ${fmt(r.framesPerSecPerClient.min)}), ` +
          `alert to last client p50 ${fmt(r.alertToLastClientMs.p50, 2)} ms, p99 ${fmt(r.alertToLastClientMs.p99, 2)} ms`,
      );
    }
    console.log(`${String(clients).padStart(5)} clients ratio driftwatch / raw: CPU ${fmt(cpuRatio, 2)}, alert p99 ${fmt(alertP99Ratio, 2)}`);
  }
  console.log(JSON.stringify({ bench: 'feed', models: MODELS, seconds, alerts, results }));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
