/**
 * The model-level Prometheus series (predictions, latency, drift per feature, data quality...)
 * kept as the ModelMetrics entries they come from, not as prom-client label sets.
 *
 * A gateway's scrape at 100 exported models x 30 features x 3 windows is ~100,000 series. Set on
 * prom-client gauges, each was a label object, a hash string and an entry kept until the next
 * scrape (so promoted out of the young generation, then garbage in the old one) before being
 * written as text: the scrape's memory traffic was most of the gateway's long young-generation
 * collections, which REST requests waited behind (bench gateway at 300 models: scavenges over
 * 20 ms 6-14 in 45 s with two scrapes, 0-4 without). Here a scrape keeps the entries (a small
 * object per entry) and GET /metrics writes each gauge's lines straight from them
 * (`ModelSeriesGauge.textChunks`). `get()` (registry.metrics(), getMetricsAsJSON, OpenMetrics)
 * still works: it fills the gauge from the same entries first, with the same series in the same
 * order.
 */
import { Gauge } from 'prom-client';
import type { DataQualitySummary, DriftEntry, FeatureDataQuality, ModelMetrics } from '../contract/metrics.ts';
import type { AnyRegistry } from '../contract/metric-registration.ts';

/** Label value for metrics merged over all versions (ModelMetrics.version === null). */
export const ALL_VERSIONS_LABEL = 'all';

/** A feature's drift as its series show it: `psi` is left out when not finite. */
export interface KeptFeature {
  readonly feature: string;
  readonly psi: number | undefined;
  readonly entry: DriftEntry;
}

/** One ModelMetrics entry a scrape exports, with the features its series keep (the caps applied). */
export interface KeptEntry {
  readonly metrics: ModelMetrics;
  /** `model="…",version="…",window="…"`, escaped. */
  readonly labelText: string;
  readonly features: readonly KeptFeature[];
  readonly quality: readonly (readonly [string, FeatureDataQuality])[];
}

/** The entries the last finished update kept; `version` moves on with every update. */
export class ModelSeriesBook {
  entries: readonly KeptEntry[] = [];
  version = 0;
}

/**
 * Receives one series of a gauge: its value and up to two labels after model, version and window
 * (positional, so a series costs no label object on the text path).
 */
type Emit = (value: number, name1?: string, value1?: string, name2?: string, value2?: string) => void;
/** Visits the series one entry gives a gauge, in the order they are exported. */
export type SeriesVisitor = (entry: KeptEntry, emit: Emit) => void;

/** Series written between two yields of textChunks (the caller looks at its slice's clock then). */
const LINES_PER_CHUNK = 512;

/**
 * A model-level gauge whose series are the book's entries seen through `visit`. Nothing sets it
 * directly: `set` on it is overwritten by the next `get()`, and GET /metrics never reads its own
 * label sets.
 */
export class ModelSeriesGauge<L extends string = string> extends Gauge<L> {
  private filledVersion = -1;
  /** Its name, help and label names (prom-client's typings do not expose them). */
  readonly described: { readonly name: string; readonly help: string; readonly labelNames: readonly string[] };

  constructor(
    config: { name: string; help: string; labelNames: readonly L[]; registers: AnyRegistry[] },
    readonly book: ModelSeriesBook,
    private readonly visit: SeriesVisitor,
  ) {
    super({
      ...config,
      // prom-client calls it on get(): the label sets are made only for a caller that reads them
      collect: () => this.fill(),
    });
    this.described = { name: config.name, help: config.help, labelNames: config.labelNames };
  }

  /**
   * This gauge's exposition lines (`name{labels} value`, newline-separated, each chunk starting with
   * a newline), LINES_PER_CHUNK series per chunk. `labelsAfter` is written after each series' own
   * labels (the registry's default labels it lacks, as `,name="value"`). The text is prom-client's
   * for the same series.
   */
  *textChunks(escapedName: string, labelsAfter: string): Generator<string> {
    let text = '';
    let lines = 0;
    let prefix = '';
    const emit: Emit = (value, name1, value1, name2, value2) => {
      let line = `\n${escapedName}{${prefix}`;
      if (name1 !== undefined) line += `,${name1}="${labelValueText(value1 ?? '')}"`;
      if (name2 !== undefined) line += `,${name2}="${labelValueText(value2 ?? '')}"`;
      text += `${line}${labelsAfter}} ${valueText(value)}`;
      lines++;
    };
    for (const entry of this.book.entries) {
      prefix = entry.labelText;
      this.visit(entry, emit);
      if (lines >= LINES_PER_CHUNK) {
        yield text;
        text = '';
        lines = 0;
      }
    }
    if (text !== '') yield text;
  }

  private fill(): void {
    if (this.filledVersion === this.book.version) return;
    this.reset();
    let base: Record<string, string> = {};
    const emit: Emit = (value, name1, value1, name2, value2) => {
      const labels: Record<string, string> = { ...base };
      if (name1 !== undefined) labels[name1] = value1 ?? '';
      if (name2 !== undefined) labels[name2] = value2 ?? '';
      this.set(labels as Partial<Record<L, string>>, value);
    };
    for (const entry of this.book.entries) {
      const mm = entry.metrics;
      base = { model: mm.model, version: mm.version ?? ALL_VERSIONS_LABEL, window: mm.window };
      this.visit(entry, emit);
    }
    this.filledVersion = this.book.version;
  }
}

/** The entry a scrape keeps of `mm`: its label text and the features its series show (at most `maxFeatures`, the most concerning first). */
export function keptEntry(mm: ModelMetrics, maxFeatures: number): { entry: KeptEntry; droppedFeatures: number; droppedQualityFeatures: number } {
  const labelText = `model="${labelValueText(mm.model)}",version="${labelValueText(mm.version ?? ALL_VERSIONS_LABEL)}",window="${labelValueText(mm.window)}"`;
  const features: KeptFeature[] = [];
  const driftFeatures = mm.drift.features;
  for (const feature in driftFeatures) {
    const entry = driftFeatures[feature];
    const psi = entry.tests.psi?.statistic;
    features.push({ feature, psi: psi !== undefined && Number.isFinite(psi) ? psi : undefined, entry });
  }
  let droppedFeatures = 0;
  if (features.length > maxFeatures) {
    features.sort(byConcern);
    droppedFeatures = features.length - maxFeatures;
    features.length = maxFeatures;
  }
  const { kept: quality, dropped: droppedQualityFeatures } = keptQuality(mm.dataQuality, maxFeatures);
  return { entry: { metrics: mm, labelText, features, quality }, droppedFeatures, droppedQualityFeatures };
}

/** Drifting features first, then the highest PSI: the series an operator looks for survive the cap. */
function byConcern(a: KeptFeature, b: KeptFeature): number {
  return Number(b.entry.drift) - Number(a.entry.drift) || (b.psi ?? -Infinity) - (a.psi ?? -Infinity) || (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0);
}

/** The largest share a feature's data quality reports: how much it concerns an operator. */
function qualityConcern(entry: FeatureDataQuality): number {
  if (entry.vanished || entry.appeared) return Infinity;
  return Math.max(entry.missingIncrease ?? 0, entry.wrongTypeShare ?? 0, entry.newCategoryShare ?? 0, entry.outOfRangeShare ?? 0);
}

function keptQuality(quality: DataQualitySummary | undefined, maxFeatures: number): { kept: [string, FeatureDataQuality][]; dropped: number } {
  if (quality === undefined) return { kept: [], dropped: 0 };
  const features = Object.entries(quality.features);
  if (features.length <= maxFeatures) return { kept: features, dropped: 0 };
  features.sort(([a, x], [b, y]) => qualityConcern(y) - qualityConcern(x) || (a < b ? -1 : a > b ? 1 : 0));
  return { kept: features.slice(0, maxFeatures), dropped: features.length - maxFeatures };
}

// --- what each gauge shows of an entry (a null statistic, no data yet, is left out rather than exported as NaN/0)

const defined = (emit: Emit, value: number | null | undefined): void => {
  if (value !== null && value !== undefined) emit(value);
};
const finite = (value: number | null | undefined): value is number => value !== null && value !== undefined && Number.isFinite(value);

/** The default (primary) test's verdict or statistic of a drift entry, `test` naming it; nothing when its statistic is not finite. */
function verdict(entry: DriftEntry, emit: Emit, of: 'verdict' | 'statistic', feature?: string): void {
  const primary = entry.tests[entry.primary];
  if (primary === undefined || !Number.isFinite(primary.statistic)) return;
  // entry.drift, not primary.drift: the verdict includes the confirming p-value test when there is one
  const value = of === 'verdict' ? (entry.drift ? 1 : 0) : primary.statistic;
  if (feature === undefined) emit(value, 'test', entry.primary);
  else emit(value, 'feature', feature, 'test', entry.primary);
}

export const visitors = {
  predictions: ((e, emit) => emit(e.metrics.count)) as SeriesVisitor,
  errorRate: ((e, emit) => defined(emit, e.metrics.errorRate)) as SeriesVisitor,
  latency: ((e, emit) => {
    const lat = e.metrics.latency;
    if (lat.p50 !== null) emit(lat.p50 / 1000, 'quantile', '0.5');
    if (lat.p95 !== null) emit(lat.p95 / 1000, 'quantile', '0.95');
    if (lat.p99 !== null) emit(lat.p99 / 1000, 'quantile', '0.99');
  }) as SeriesVisitor,
  accuracy: ((e, emit) => defined(emit, e.metrics.accuracy)) as SeriesVisitor,
  labelCoverage: ((e, emit) => defined(emit, e.metrics.labelCoverage)) as SeriesVisitor,
  outputPsi: ((e, emit) => {
    const psi = e.metrics.drift.output?.tests.psi?.statistic;
    if (finite(psi)) emit(psi);
  }) as SeriesVisitor,
  outputDrift: ((e, emit) => {
    const output = e.metrics.drift.output;
    if (output !== null) verdict(output, emit, 'verdict');
  }) as SeriesVisitor,
  outputDriftStatistic: ((e, emit) => {
    const output = e.metrics.drift.output;
    if (output !== null) verdict(output, emit, 'statistic');
  }) as SeriesVisitor,
  featurePsi: ((e, emit) => {
    for (const { feature, psi } of e.features) if (psi !== undefined) emit(psi, 'feature', feature);
  }) as SeriesVisitor,
  featureDrift: ((e, emit) => {
    for (const { feature, entry } of e.features) verdict(entry, emit, 'verdict', feature);
  }) as SeriesVisitor,
  featureDriftStatistic: ((e, emit) => {
    for (const { feature, entry } of e.features) verdict(entry, emit, 'statistic', feature);
  }) as SeriesVisitor,
  multivariateError: ((e, emit) => {
    const mv = e.metrics.drift.multivariate;
    if (mv !== undefined && mv !== null) emit(mv.errorMean);
  }) as SeriesVisitor,
  multivariateBound: ((e, emit) => {
    const mv = e.metrics.drift.multivariate;
    if (mv === undefined || mv === null) return;
    emit(mv.lower, 'bound', 'lower');
    emit(mv.upper, 'bound', 'upper');
  }) as SeriesVisitor,
  multivariateDrift: ((e, emit) => {
    const mv = e.metrics.drift.multivariate;
    if (mv !== undefined && mv !== null) emit(mv.drift ? 1 : 0);
  }) as SeriesVisitor,
};

/** A data-quality reading of each kept feature; `flag` ones only when the window has a reference (without one nothing can appear or vanish: no flag rather than a 0 that claims to know). */
export function qualityVisitor(read: (q: FeatureDataQuality) => number | null, flag = false): SeriesVisitor {
  return (e, emit) => {
    if (flag && e.metrics.dataQuality?.reference === null) return;
    for (const [feature, q] of e.quality) {
      const value = read(q);
      if (finite(value)) emit(value, 'feature', feature);
    }
  };
}

/** A label's value as prom-client writes it: escaped only when it has something to escape. */
export function labelValueText(value: string): string {
  return LABEL_VALUE_TO_ESCAPE.test(value) ? escapeText(value).replace(/"/g, '\\"') : value;
}
const LABEL_VALUE_TO_ESCAPE = /[\\\n"]/;

/** prom-client's escaping of a help text, a name or (with its quotes escaped too) a label value. */
export function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample's value as prom-client writes it. */
export function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}
