/** In-memory MetricsSource for gateway tests. */
import { MetricsSourceEmitter } from '../../src/contract/metrics-source.ts';
import type { MetricsOptions } from '../../src/contract/metrics-source.ts';
import type { AlertEvent, DriftEntry, ModelMetrics, ModelSummary } from '../../src/contract/metrics.ts';

const WINDOW_MS: Record<string, number> = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000 };

function driftEntry(psi: number, count: number): DriftEntry {
  return {
    type: 'numeric',
    count,
    reference: 'ref-1',
    primary: 'psi',
    drift: psi > 0.2,
    tests: {
      psi: { test: 'psi', statistic: psi, threshold: 0.2, drift: psi > 0.2 },
      ks: { test: 'ks', statistic: 0.11, pValue: 0.03, threshold: 0.05, drift: true },
    },
  };
}

/** A ModelMetrics with every field (optional ones included) filled with distinct values. */
export function fullMetrics(model: string, window: string, count: number, version: string | null = null, featureCount = 2): ModelMetrics {
  const features: Record<string, DriftEntry> = {};
  for (let i = 0; i < featureCount; i++) features[`f${i}`] = driftEntry(0.01 * (i + 1), count);
  return {
    model,
    version,
    window,
    windowMs: WINDOW_MS[window] ?? 60_000,
    from: 1_700_000_000_000,
    to: 1_700_000_300_000,
    count,
    errors: 3,
    errorRate: 3 / Math.max(count, 1),
    late: 1,
    latency: { p50: 12.5, p95: 40, p99: 88.25, mean: 15.1 },
    accuracy: 0.91,
    quality: {
      labeled: 50,
      accuracy: 0.91,
      precision: 0.9,
      recall: 0.8,
      f1: 0.847,
      auc: 0.95,
      logLoss: 0.3,
      brier: 0.08,
      mae: null,
      rmse: null,
      mape: null,
      confusion: { classes: ['0', '1'], matrix: [[20, 2], [3, 25]] },
      estimatedPrecision: 0.87,
      estimatedRecall: 0.79,
      estimatedF1: 0.828,
      estimatedAuc: 0.93,
    },
    estimatedAccuracy: 0.88,
    labelCoverage: 0.5,
    labels: { joined: 50, pending: 40, expired: 10, early: 2 },
    labelDelayMs: { p50: 1500, p95: null },
    drift: { reference: 'ref-1', output: driftEntry(0.3, count), features },
    reference: { id: 'ref-1', accuracy: 0.93, errorRate: 0.01, latencyP99: 80 },
    detectors: { adwin: 1 },
    fairness: {
      group: {
        groups: { a: { count: 30, selectionRate: 0.5, tpr: 0.8 }, b: { count: 20, selectionRate: 0.35, tpr: null } },
        demographicParityDifference: 0.15,
        disparateImpactRatio: 0.7,
        equalOpportunityDifference: null,
      },
    },
  };
}

export function alert(model: string, rule: string, at: number, state: 'firing' | 'resolved' = 'firing', message = 'psi above threshold'): AlertEvent {
  return {
    id: `${model}:${rule}:model:1000:${state}`,
    model,
    rule,
    scope: 'model',
    state,
    severity: 'warning',
    value: 0.31,
    threshold: 0.2,
    window: '5m',
    startsAt: 1000,
    at,
    message,
  };
}

export class FakeSource extends MetricsSourceEmitter {
  isReady = true;
  readonly counts = new Map<string, number>();
  readonly alerts: AlertEvent[] = [];
  featureCount = 2;
  getMetricsCalls = 0;
  /** Versions every model has been seen with (listed by listModels, known to ?version=). */
  versions = ['v1', 'v2'];
  /** MetricsSource.metricsSteps, when a test gives it one. */
  metricsSteps?: (model: string, window: string, version?: string, options?: MetricsOptions) => (() => boolean) | null;

  constructor(models: string[] = ['churn', 'fraud']) {
    super();
    for (const m of models) this.counts.set(m, 100);
  }

  windows(): string[] {
    return ['1m', '5m', '1h'];
  }

  listModels(): ModelSummary[] {
    return [...this.counts].map(([model, count]) => ({ model, versions: [...this.versions], lastEventAt: 1_700_000_300_000, count5m: count }));
  }

  getMetrics(model: string, window: string, version?: string): ModelMetrics | undefined {
    this.getMetricsCalls++;
    const count = this.counts.get(model);
    if (count === undefined) return undefined;
    return fullMetrics(model, window, count, version ?? null, this.featureCount);
  }

  knownVersions(model: string): string[] | undefined {
    return this.counts.has(model) ? [...this.versions] : undefined;
  }

  recentAlerts(model?: string): AlertEvent[] {
    return model === undefined ? [...this.alerts] : this.alerts.filter((a) => a.model === model);
  }

  ready(): boolean {
    return this.isReady;
  }

  notReadyReason(): string {
    return 'restoring partition checkpoints (3 of 8 left)';
  }

  /** Change a model's count and announce it, like the window computation would. */
  bump(model: string, count: number): void {
    this.counts.set(model, count);
    this.emitMetrics(model);
  }

  fire(a: AlertEvent): void {
    this.alerts.push(a);
    this.emitAlert(a);
  }
}
