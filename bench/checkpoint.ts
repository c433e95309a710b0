/**
 * Checkpoint cost per partition, full vs incremental, at 100k and 1M pending joins:
 *
 *   npm run bench -- checkpoint [--pending 100000,1000000] [--rate 500] [--interval-s 5]
 *
 * A PartitionProcessor is filled with `pending` unlabelled predictions (one model, 5 numeric
 * features, UUID ids), then runs like a steady partition: each checkpoint interval brings
 * `rate` predictions/s, half of them labelled (each label joins an older prediction, which leaves
 * the pending table), so the pending count grows by a quarter of the events. For each
 * interval it takes the full checkpoint (what every checkpoint cost before: snapshot()) and the
 * delta (snapshotDelta()), and reports CPU time and bytes of each, the restore time of a base plus
 * 12 deltas, and, as the raw limit measured in the same run, the time to copy the full
 * checkpoint's bytes once (the least any full-state checkpoint costs). One JSON line at the end.
 * CPU time is the figure to read on a shared machine; say how loaded it was next to any figure.
 */
import { randomUUID } from 'node:crypto';
import { cpuUsage } from 'node:process';
import { PartitionProcessor } from '../src/partition/processor.ts';
import type { ProcessorOptions } from '../src/partition/processor.ts';
import { encodeLabel, encodePrediction } from '../src/events/encode.ts';
import { DEFAULT_PANE_LIMITS } from '../src/window/pane.ts';

const T0 = 1_700_000_000_000;

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: expected a positive number, got ${JSON.stringify(value)}`);
  return n;
}

function cpuMs<T>(run: () => T): { value: T; ms: number } {
  const start = cpuUsage();
  const value = run();
  const used = cpuUsage(start);
  return { value, ms: (used.user + used.system) / 1000 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

interface Figures {
  pending: number;
  fullMs: number;
  fullBytes: number;
  deltaMs: number;
  deltaBytes: number;
  copyMs: number;
  restoreBaseMs: number;
  restoreChainMs: number;
}

function measure(pending: number, rate: number, intervalS: number): Figures {
  const horizonMs = 3_600_000;
  const options: ProcessorOptions = {
    partition: 0,
    paneMs: 60_000,
    allowedLatenessMs: 60_000,
    maxFutureMs: 300_000,
    labelHorizonMs: horizonMs,
    maxPending: pending * 2,
    maxEarlyLabels: 10_000,
    maxEventBytes: 65_536,
    maxModels: 10,
    maxVersionsPerModel: 5,
    threshold: 0.5,
    limits: DEFAULT_PANE_LIMITS,
    now: () => T0 + 10 * horizonMs,
  };
  const processor = new PartitionProcessor(options);
  const ids: string[] = [];
  let seq = 0;
  // predictions spread over the last 50 minutes of event time, within the horizon
  const spacing = Math.max(1, Math.floor((horizonMs * 5) / 6 / pending));
  let ts = T0;
  const predict = (): void => {
    const id = randomUUID();
    ids.push(id);
    ts += spacing;
    const data = encodePrediction({ id, model: 'm', version: 'v1', ts, output: (seq % 100) / 100, features: { a: seq % 13, b: seq / 7, c: seq % 5, d: 1, e: seq % 2 } });
    processor.process(++seq, 'drift.in.0.m.pred', data);
  };
  for (let i = 0; i < pending; i++) predict();
  let nextLabel = 0;

  const base = processor.snapshot('bench');
  const copy = cpuMs(() => base.slice());
  const perInterval = Math.round(rate * intervalS);
  const full: number[] = [];
  const fullBytes: number[] = [];
  const delta: number[] = [];
  const deltaBytes: number[] = [];
  const deltas: Uint8Array[] = [];
  let fromSeq = processor.seq;
  for (let k = 1; k <= 12; k++) {
    for (let i = 0; i < perInterval; i++) {
      predict();
      if (i % 2 === 0) {
        // a label for a prediction made a while ago: it joins and leaves the pending table
        const id = ids[nextLabel];
        nextLabel += 2;
        processor.process(++seq, 'drift.in.0.m.label', encodeLabel({ id, model: 'm', ts, label: 1 }));
      }
    }
    const d = cpuMs(() => processor.snapshotDelta({ baseId: 'bench', index: k, fromSeq }));
    fromSeq = processor.seq;
    deltas.push(d.value);
    delta.push(d.ms);
    deltaBytes.push(d.value.length);
    // the full checkpoint of the same state (what every checkpoint wrote before deltas); it starts
    // a new delta generation at the same state, so the next delta still follows this one
    const f = cpuMs(() => processor.snapshot('bench'));
    full.push(f.ms);
    fullBytes.push(f.value.length);
  }
  const restoreBase = cpuMs(() => PartitionProcessor.restore(base, options));
  const restoreChain = cpuMs(() => PartitionProcessor.restore(base, options, deltas));
  if (restoreChain.value.join.size !== processor.join.size || restoreChain.value.seq !== processor.seq) {
    throw new Error(`base + deltas restored ${restoreChain.value.join.size} pending at ${restoreChain.value.seq}, expected ${processor.join.size} at ${processor.seq}`);
  }
  return {
    pending: processor.join.size,
    fullMs: median(full),
    fullBytes: median(fullBytes),
    deltaMs: median(delta),
    deltaBytes: median(deltaBytes),
    copyMs: copy.ms,
    restoreBaseMs: restoreBase.ms,
    restoreChainMs: restoreChain.ms,
  };
}

export function main(): void {
  const sizes = arg('pending', '100000,1000000').split(',').map((s) => positive('pending', s));
  const rate = positive('rate', arg('rate', '500'));
  const intervalS = positive('interval-s', arg('interval-s', '5'));
  console.log(`checkpoint cost per partition: ${rate} predictions/s (half labelled) per partition, a checkpoint every ${intervalS} s; CPU ms, median of 12 intervals`);
  const results: Figures[] = [];
  for (const pending of sizes) {
    const f = measure(pending, rate, intervalS);
    results.push(f);
    console.log(
      `${f.pending.toLocaleString().padStart(9)} pending: full ${f.fullMs.toFixed(1)} ms ${(f.fullBytes / 1e6).toFixed(2)} MB | delta ${f.deltaMs.toFixed(2)} ms ${(f.deltaBytes / 1e3).toFixed(1)} kB ` +
        `(${(f.fullMs / Math.max(f.deltaMs, 0.001)).toFixed(0)}x less CPU, ${(f.fullBytes / f.deltaBytes).toFixed(0)}x fewer bytes) | raw copy of the full bytes ${f.copyMs.toFixed(1)} ms (delta/raw ${(f.deltaMs / Math.max(f.copyMs, 0.001)).toFixed(2)}) | restore base ${f.restoreBaseMs.toFixed(0)} ms, base + 12 deltas ${f.restoreChainMs.toFixed(0)} ms`,
    );
  }
  console.log(JSON.stringify({ bench: 'checkpoint', rate, intervalS, results: results.map((f) => ({ ...f, fullMs: +f.fullMs.toFixed(2), deltaMs: +f.deltaMs.toFixed(3), copyMs: +f.copyMs.toFixed(2), restoreBaseMs: Math.round(f.restoreBaseMs), restoreChainMs: Math.round(f.restoreChainMs) })) }));
}

main();
