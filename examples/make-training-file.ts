/**
 * Writes examples/training.csv: what a user's training export looks like (an id and a timestamp
 * column, the features, the model's output and the true label), for the simulator's `fraud` model
 * with nothing drifted, so a newcomer can run the README's `baseline create` and then watch the
 * simulator's drift against it.
 *
 *   node --import tsx examples/make-training-file.ts [rows] > examples/training.csv
 *
 * Deterministic (fixed seed and start time): the checked-in file is what this prints.
 */
import { Scenario, simulateTimeline } from '../src/simulator/index.ts';
import type { LabelEvent, PredictionEvent } from '../src/events/types.ts';

export function trainingCsv(rows: number): string {
  const start = Date.UTC(2026, 0, 5, 9, 0, 0);
  const scenario = new Scenario({ seed: 7, startMs: start, models: ['fraud'], canaryFraction: 0, baseErrorRate: 0, labels: { delayMedianMs: 1000, delaySigma: 0, earlyFraction: 0, neverFraction: 0, duplicateFraction: 0 } });
  const predictions = new Map<string, PredictionEvent>();
  const labels = new Map<string, LabelEvent>();
  for (const e of simulateTimeline(scenario, { fromMs: start, toMs: start + Math.ceil(rows / 50) * 1000 + 5_000, rate: 50 })) {
    if (e.kind === 'pred' && predictions.size < rows && !predictions.has(e.event.id)) predictions.set(e.event.id, e.event);
    else if (e.kind === 'label') labels.set(e.event.id, e.event);
  }
  const first = predictions.values().next().value as PredictionEvent;
  const featureNames = Object.keys(first.features ?? {});
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
  const lines = [['transaction_id', 'event_time', ...featureNames, 'output', 'label'].join(',')];
  for (const p of predictions.values()) {
    const label = labels.get(p.id);
    const output = typeof p.output === 'number' ? Number(p.output.toFixed(6)) : p.output;
    const features = featureNames.map((name) => {
      const v = p.features?.[name];
      return typeof v === 'number' ? cell(Number(v.toFixed(6))) : cell(v);
    });
    lines.push([cell(p.id), new Date(p.ts).toISOString(), ...features, cell(output), cell(label?.label)].join(','));
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = Number(process.argv[2] ?? 5000);
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`rows: expected a positive integer, got ${process.argv[2]}`);
  process.stdout.write(trainingCsv(rows));
}
