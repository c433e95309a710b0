import { describe, expect, it } from 'vitest';
import type { LabelEvent, PredictionEvent } from '../../src/events/types.ts';
import { runSimulator, type EventSink, type SimulatorLogger } from '../../src/simulator/run.ts';

class RecordingSink implements EventSink {
  predictions: PredictionEvent[] = [];
  labels: LabelEvent[] = [];
  flushes = 0;
  failAfter = Infinity;
  async publishPrediction(event: PredictionEvent): Promise<void> {
    if (this.predictions.length >= this.failAfter) throw new Error('NATS is gone');
    this.predictions.push(event);
  }
  async publishLabel(event: LabelEvent): Promise<void> {
    this.labels.push(event);
  }
  async flush(): Promise<void> {
    this.flushes++;
  }
}

class RecordingLogger implements SimulatorLogger {
  lines: { message: string; fields: Record<string, unknown> }[] = [];
  info(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ message, fields });
  }
}

describe('runSimulator', () => {
  it('paces predictions in real time, stamps wall-clock event time and flushes at the end', async () => {
    const sink = new RecordingSink();
    const logger = new RecordingLogger();
    const before = Date.now();
    const summary = await runSimulator({
      publisher: sink, rate: 1000, durationMs: 500, seed: 4, logger, labels: { delayMedianMs: 50, delaySigma: 0 },
    });
    const wall = Date.now() - before;
    expect(summary.predictions).toBe(500);
    expect(sink.predictions.length).toBe(500 + summary.duplicates);
    expect(sink.labels.length).toBe(summary.labelsEmitted);
    expect(summary.labelsEmitted).toBeGreaterThan(300); // ~88% of those older than 50 ms
    expect(summary.aborted).toBe(false);
    expect(sink.flushes).toBe(1); // 500 ms: no periodic flush yet, one at the end
    expect(wall).toBeGreaterThanOrEqual(480);
    expect(wall).toBeLessThan(2000);
    for (const p of sink.predictions) {
      expect(p.ts).toBeGreaterThanOrEqual(before);
      expect(p.ts).toBeLessThanOrEqual(before + wall);
    }
    // predictions spread over many ticks of the run, not sent in one burst (loose: CI machines stall)
    const ts = sink.predictions.map((p) => p.ts);
    expect(new Set(ts).size).toBeGreaterThanOrEqual(5);
    // a fifth of the run at least: a stalled event loop is caught up in bursts (140 ms seen on a slow CI machine)
    expect(Math.max(...ts) - Math.min(...ts)).toBeGreaterThan(100);
    expect(logger.lines.at(-1)?.message).toBe('finished');
  });

  it('stops promptly on abort and still flushes', async () => {
    const sink = new RecordingSink();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const started = Date.now();
    const summary = await runSimulator({ publisher: sink, rate: 1000, signal: abort.signal, logger: new RecordingLogger() });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(summary.aborted).toBe(true);
    expect(sink.flushes).toBe(1);
    expect(summary.predictions).toBeGreaterThan(100);
    expect(summary.predictions).toBeLessThan(700);
  });

  it('logs progress and drift changes with the active drifts', async () => {
    const logger = new RecordingLogger();
    await runSimulator({
      publisher: new RecordingSink(), rate: 500, durationMs: 450, logger, logEveryMs: 100,
      drift: [{ at: 200, kind: 'latency', magnitude: 50, until: 350 }],
    });
    const progress = logger.lines.filter((l) => l.message === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.some((l) => (l.fields.activeDrifts as string[]).includes('latency(+50ms)'))).toBe(true);
    expect(progress.every((l) => typeof l.fields.sent === 'number' && typeof l.fields.labels === 'number')).toBe(true);
    const changes = logger.lines.filter((l) => l.message === 'drift changed').map((l) => l.fields.active);
    expect(changes).toEqual([['latency(+50ms)'], []]);
  });

  it('skips and counts traffic it cannot catch up on instead of queueing it', async () => {
    let now = 1_000_000;
    const clock = () => (now += 3000); // every look at the clock finds it 3 s later: publishing is far behind
    const sink = new RecordingSink();
    const summary = await runSimulator({
      publisher: sink, rate: 100, durationMs: 20_000, clock, tickMs: 1, maxCatchUpMs: 1000, logger: new RecordingLogger(),
    });
    expect(summary.predictions + summary.skipped).toBe(2000);
    expect(summary.skipped).toBeGreaterThan(1000);
    expect(summary.predictions).toBeLessThanOrEqual(100 * 8);
  });

  it('flushes periodically so a failing JetStream stops the run early', async () => {
    const sink = new RecordingSink();
    let flushes = 0;
    sink.flush = async () => {
      flushes++;
      if (flushes === 2) throw new Error('3 publishes to JetStream failed since the last flush');
    };
    const started = Date.now();
    await expect(
      runSimulator({ publisher: sink, rate: 1000, durationMs: 10_000, flushEveryMs: 100, logger: new RecordingLogger() }),
    ).rejects.toThrow(/3 publishes to JetStream failed/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(flushes).toBe(3); // two periodic ones, the second failing, then the final one
  });

  it('propagates a publishing failure after flushing what was sent', async () => {
    const sink = new RecordingSink();
    sink.failAfter = 50;
    await expect(runSimulator({ publisher: sink, rate: 1000, durationMs: 1000, logger: new RecordingLogger() })).rejects.toThrow(
      'NATS is gone',
    );
    expect(sink.flushes).toBe(1);
  });

  it('rejects bad options with the option named', async () => {
    const sink = new RecordingSink();
    await expect(runSimulator({ publisher: sink, rate: -5 })).rejects.toThrow(/rate must be a finite number > 0, got -5/);
    await expect(runSimulator({ publisher: sink, durationMs: 0 })).rejects.toThrow(/durationMs must be/);
    await expect(runSimulator({ publisher: sink, drift: [{ at: 0, kind: 'covariate', feature: 'zz' }] })).rejects.toThrow(/feature "zz"/);
  });
});
