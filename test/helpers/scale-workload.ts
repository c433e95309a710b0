/**
 * The scale-out workload: N predictions over two models with two versions each (1 in 97 a failed
 * inference, without output or label), and their labels published late (a few chunks behind the
 * predictions) and shuffled, so they arrive out of order. Every figure the gateway reports can be
 * computed from N alone (`expectedTotals`).
 *
 *   const { published } = await publishWorkload(publisher, { count: 200_000, t0, onChunk });
 *   expect(metricsOf('risk', 'v1').quality.confusion.matrix).toEqual(expectedTotals(200_000).get('risk/v1').confusion);
 */
import type { DriftPublisher } from '../../src/client/index.ts';
import { mulberry32 } from '../../src/sketch/random.ts';

export const SCALE_GROUPS = [
  { model: 'risk', version: 'v1' },
  { model: 'risk', version: 'v2' },
  { model: 'churn', version: 'v1' },
  { model: 'churn', version: 'v2' },
] as const;

export const SCALE_MODELS = ['risk', 'churn'] as const;

/** Event-time spacing of consecutive predictions: 200,000 of them span 10 minutes. */
const SPACING_MS = 3;

export interface WorkloadEvent {
  id: string;
  model: string;
  version: string;
  ts: number;
  output?: number;
  error?: string;
  latencyMs: number;
  /** Absent for a failed inference (no label is ever sent for it). */
  label?: 0 | 1;
}

export function workloadEvent(i: number, t0: number): WorkloadEvent {
  const { model, version } = SCALE_GROUPS[i % SCALE_GROUPS.length];
  const ts = t0 + i * SPACING_MS;
  const latencyMs = 5 + (i % 200);
  if (i % 97 === 0) return { id: `e${i}`, model, version, ts, error: 'timeout', latencyMs };
  const output = ((i * 7919) % 1000) / 1000;
  // mostly right, wrong for every fifth id: every cell of the confusion matrix gets counts
  const label = ((output >= 0.5 ? 1 : 0) ^ (i % 5 === 0 ? 1 : 0)) as 0 | 1;
  return { id: `e${i}`, model, version, ts, output, latencyMs, label };
}

export interface GroupTotals {
  count: number;
  errors: number;
  joined: number;
  /** Rows are labels, columns predictions, classes ['0', '1'] (as the gateway reports it). */
  confusion: [[number, number], [number, number]];
}

/** What the gateway must report for the first `count` events, by `model/version` and by `model` (all versions). */
export function expectedTotals(count: number, t0 = 0): Map<string, GroupTotals> {
  const totals = new Map<string, GroupTotals>();
  const of = (key: string) => {
    let t = totals.get(key);
    if (t === undefined) totals.set(key, (t = { count: 0, errors: 0, joined: 0, confusion: [[0, 0], [0, 0]] }));
    return t;
  };
  for (let i = 0; i < count; i++) {
    const e = workloadEvent(i, t0);
    for (const t of [of(`${e.model}/${e.version}`), of(e.model)]) {
      t.count++;
      if (e.error !== undefined) t.errors++;
      if (e.label !== undefined && e.output !== undefined) {
        t.joined++;
        t.confusion[e.label][e.output >= 0.5 ? 1 : 0]++;
      }
    }
  }
  return totals;
}

export interface PublishOptions {
  count: number;
  /** Event time of the first prediction (epoch ms). */
  t0: number;
  /** Predictions per chunk (default 5,000). */
  chunk?: number;
  /** Labels of chunk c are published after the predictions of chunk c + lag (default 2), shuffled. */
  labelLag?: number;
  seed?: number;
  /** Called (and awaited) after each chunk with the number of events published so far. */
  onChunk?: (eventsPublished: number) => Promise<void> | void;
}

/**
 * Publishes the workload with the publisher's bounded in-flight window (each publish waits only
 * when `maxInFlight` acks are outstanding). Resolves with the number of events (predictions +
 * labels) published, once every one of them is acknowledged.
 */
export async function publishWorkload(publisher: DriftPublisher, options: PublishOptions): Promise<{ events: number; labels: number }> {
  const { count, t0 } = options;
  const chunk = options.chunk ?? 5_000;
  const lag = options.labelLag ?? 2;
  const random = mulberry32(options.seed ?? 11);
  let events = 0;
  let labels = 0;
  const publishLabels = async (c: number) => {
    const ids: number[] = [];
    for (let i = c * chunk; i < Math.min(count, (c + 1) * chunk); i++) ids.push(i);
    for (let k = ids.length - 1; k > 0; k--) {
      const j = Math.floor(random() * (k + 1));
      [ids[k], ids[j]] = [ids[j], ids[k]];
    }
    for (const i of ids) {
      const e = workloadEvent(i, t0);
      if (e.label === undefined) continue;
      await publisher.publishLabel({ id: e.id, model: e.model, ts: e.ts + 2_000 + (i % 50) * 100, label: e.label });
      events++;
      labels++;
    }
  };
  const chunks = Math.ceil(count / chunk);
  for (let c = 0; c < chunks; c++) {
    for (let i = c * chunk; i < Math.min(count, (c + 1) * chunk); i++) {
      const e = workloadEvent(i, t0);
      await publisher.publishPrediction({ id: e.id, model: e.model, version: e.version, ts: e.ts, output: e.output, error: e.error, latencyMs: e.latencyMs });
      events++;
    }
    if (c - lag >= 0) await publishLabels(c - lag);
    await options.onChunk?.(events);
  }
  for (let c = Math.max(0, chunks - lag); c < chunks; c++) {
    await publishLabels(c);
    await options.onChunk?.(events);
  }
  await publisher.flush();
  return { events, labels };
}
