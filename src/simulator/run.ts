/**
 * Real-time driver of a Scenario: paces predictions at a fixed rate against the wall clock,
 * publishes them and their delayed labels through an EventSink (the DriftPublisher in production,
 * a fake in tests), logs progress, and stops cleanly on abort or when the duration is over.
 */
import type { LabelEvent, PredictionEvent } from '../events/types.ts';
import type { DriftSchedule } from './drift.ts';
import type { ModelKind } from './models.ts';
import { Scenario, type LabelOptions, type ModelSelection, type ScenarioStats, type SimEvent } from './scenario.ts';

/** Where the simulator sends events. `DriftPublisher` satisfies it. */
export interface EventSink {
  /** Resolves when the event is accepted (the publisher's in-flight window: backpressure). */
  publishPrediction(event: PredictionEvent): Promise<void>;
  publishLabel(event: LabelEvent): Promise<void>;
  /** Resolves when everything published so far is acknowledged. */
  flush(): Promise<void>;
}

/** The subset of a pino logger the simulator uses. */
export interface SimulatorLogger {
  info(fields: Record<string, unknown>, message: string): void;
}

export interface RunSimulatorOptions {
  publisher: EventSink;
  /** Predictions per second (labels come on top, about 0.9 per prediction). Default 200. */
  rate?: number;
  /** Stop after this long; absent = run until aborted. */
  durationMs?: number;
  drift?: DriftSchedule;
  seed?: number;
  models?: readonly (ModelKind | ModelSelection)[];
  labels?: Partial<LabelOptions>;
  canaryFraction?: number;
  maxPendingLabels?: number;
  /** Prediction id prefix; default unique per run (seed and start time) so reruns do not collide. */
  idPrefix?: string;
  logger?: SimulatorLogger;
  signal?: AbortSignal;
  /** Pacing granularity (default 20 ms). */
  tickMs?: number;
  /** Progress log period (default 10 s). */
  logEveryMs?: number;
  /**
   * Most work one tick may catch up on, in ms of traffic (default 1000). When publishing falls
   * further behind (a slow NATS), the excess predictions are skipped and counted, not queued.
   */
  maxCatchUpMs?: number;
  /**
   * Flush the publisher this often (default 1 s), so a failing JetStream (no stream, no
   * permission) stops the run within a second instead of at the end.
   */
  flushEveryMs?: number;
  /** Wall clock, injectable for tests (default Date.now). */
  clock?: () => number;
}

export interface SimulatorSummary extends ScenarioStats {
  elapsedMs: number;
  /** Predictions not generated because publishing fell behind by more than maxCatchUpMs. */
  skipped: number;
  /** Predictions per second actually generated over the run. */
  achievedRate: number;
  aborted: boolean;
}

const consoleLogger: SimulatorLogger = {
  info(fields, message) {
    console.log(`${new Date().toISOString()} simulator ${message} ${JSON.stringify(fields)}`);
  },
};

function checkPositive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`runSimulator: ${name} must be a finite number > 0, got ${value}`);
  return value;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function publish(sink: EventSink, ev: SimEvent): Promise<void> {
  if (ev.kind === 'pred') await sink.publishPrediction(ev.event);
  else await sink.publishLabel(ev.event);
}

/**
 * Runs until `durationMs` has passed or `signal` aborts, then flushes the publisher and returns
 * what was sent. Event time is the wall clock. Errors from the sink propagate (after a flush
 * attempt) so the caller sees why publishing stopped.
 */
export async function runSimulator(options: RunSimulatorOptions): Promise<SimulatorSummary> {
  const sink = options.publisher;
  const rate = checkPositive('rate', options.rate ?? 200);
  const tickMs = checkPositive('tickMs', options.tickMs ?? 20);
  const logEveryMs = checkPositive('logEveryMs', options.logEveryMs ?? 10_000);
  const maxCatchUpMs = checkPositive('maxCatchUpMs', options.maxCatchUpMs ?? 1000);
  const durationMs = options.durationMs === undefined ? Infinity : checkPositive('durationMs', options.durationMs);
  const flushEveryMs = checkPositive('flushEveryMs', options.flushEveryMs ?? 1000);
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? consoleLogger;
  const signal = options.signal;
  const seed = options.seed ?? 1;

  const startMs = clock();
  const scenario = new Scenario({
    seed,
    startMs,
    drift: options.drift,
    models: options.models,
    labels: options.labels,
    canaryFraction: options.canaryFraction,
    maxPendingLabels: options.maxPendingLabels,
    idPrefix: options.idPrefix ?? `s${seed}-${startMs.toString(36)}-`,
  });
  const maxPerTick = Math.max(1, Math.ceil((rate * maxCatchUpMs) / 1000));

  logger.info(
    { rate, durationMs: Number.isFinite(durationMs) ? durationMs : null, seed, models: scenario.models.map((m) => m.name),
      drift: (options.drift ?? []).length },
    'started',
  );

  let owed = 0; // predictions generated or skipped so far: the pacing is against this count
  let skipped = 0;
  let lastLogAt = startMs;
  let lastFlushAt = startMs;
  let lastActive = '';
  let aborted = false;
  const batch: SimEvent[] = [];
  let failure: unknown;

  try {
    for (;;) {
      if (signal?.aborted) {
        aborted = true;
        break;
      }
      const now = clock();
      const elapsed = Math.min(now - startMs, durationMs);
      let due = Math.floor((elapsed * rate) / 1000) - owed;
      if (due > maxPerTick) {
        skipped += due - maxPerTick;
        owed += due - maxPerTick;
        due = maxPerTick;
      }
      batch.length = 0;
      scenario.tick(startMs + elapsed, due, batch);
      owed += due;
      for (let i = 0; i < batch.length; i++) {
        await publish(sink, batch[i]);
        // Stop mid-batch on abort: a large catch-up batch should not delay shutdown.
        if ((i & 255) === 255 && signal?.aborted) break;
      }

      if (now - lastFlushAt >= flushEveryMs) {
        lastFlushAt = now;
        await sink.flush();
      }

      const active = scenario.describeActiveDrifts(startMs + elapsed).join(' ');
      if (active !== lastActive) {
        logger.info({ active: active === '' ? [] : active.split(' ') }, 'drift changed');
        lastActive = active;
      }
      if (now - lastLogAt >= logEveryMs) {
        lastLogAt = now;
        const s = scenario.stats;
        logger.info(
          { elapsedS: Math.round(elapsed / 1000), sent: s.predictions + s.duplicates, labels: s.labelsEmitted,
            pendingLabels: s.pendingLabels, errors: s.errors, skipped, activeDrifts: active === '' ? [] : active.split(' ') },
          'progress',
        );
      }
      if (elapsed >= durationMs) break;
      await sleep(tickMs, signal);
    }
  } catch (err) {
    failure = err;
  }

  try {
    await sink.flush();
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) throw failure;

  const elapsedMs = Math.min(clock() - startMs, durationMs);
  const stats = scenario.stats;
  const summary: SimulatorSummary = {
    ...stats,
    elapsedMs,
    skipped,
    achievedRate: elapsedMs > 0 ? Math.round((stats.predictions * 1000) / elapsedMs) : 0,
    aborted,
  };
  logger.info({ ...summary }, aborted ? 'stopped (aborted)' : 'finished');
  return summary;
}
