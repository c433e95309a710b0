import type { AlertRule } from '../alerts/rules.ts';

export interface DriftTestOverride {
  test: 'psi' | 'ks' | 'wasserstein_normed' | 'jensen_shannon' | 'chi2' | 'hellinger' | 'z';
  threshold: number;
}

export interface DriftwatchConfig {
  nats: { url: string | null; replicas: 1 | 3; name: string };
  http: { host: string; port: number };
  auth: { token: string | null };
  partitions: { count: number; owned: 'all' | number[] };
  panes: { paneMs: number; allowedLatenessMs: number; flushIntervalMs: number; maxFutureMs: number };
  windows: string[];
  join: { labelHorizonMs: number; maxPending: number; maxEarlyLabels: number };
  limits: {
    maxEventBytes: number;
    maxFeatures: number;
    maxCategories: number;
    maxSegmentKeys: number;
    maxSegmentValues: number;
    maxModels: number;
    maxVersionsPerModel: number;
    maxClasses: number;
  };
  sketch: { relativeAccuracy: number };
  classification: { threshold: number };
  reference: { autoCaptureMs: number };
  checkpoint: { intervalMs: number };
  ws: { maxBufferedBytes: number; maxSubscriptions: number };
  drift: { features: Record<string, DriftTestOverride> };
  dataDir: string;
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
  alerts: { rules: AlertRule[] };
  /** Whether DRIFTWATCH_PARTITIONS (or a config file) asked for a partition count explicitly. */
  partitionsExplicit: boolean;
}
