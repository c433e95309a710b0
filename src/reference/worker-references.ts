import { CompiledReconstruction, ReconstructionScorer } from '../stats/pca-reconstruction.ts';
import type { FeatureRow, MultivariateReference, PcaReconstructionModel } from '../stats/pca-reconstruction.ts';
import { FEATURE_NUMBER, FEATURE_STRING } from '../events/feature-schema.ts';
import type { FeatureBuffer, FeatureSchema } from '../events/feature-schema.ts';
import type { PaneInput } from '../window/pane.ts';
import type { ReferenceProfile } from './profile.ts';
import { LogHistogram } from '../sketch/log-histogram.ts';
import type { ReferenceStore } from './store.ts';

/**
 * A worker's view of the active reference of each model (and of each version with its own): the
 * PCA model to score events against (multivariate drift), and the centers of its numeric feature
 * sketches, which the worker's panes take as theirs (see centersFor). It follows the object store
 * as the gateway's ReferenceRegistry does and picks the same profile (the newest by creation time,
 * then id), so the errors a worker sums are against the reference the gateway judges them by;
 * panes key their sums by profile id, so a worker that lags a change only adds sums the gateway
 * leaves aside.
 */

interface KnownReference {
  id: string;
  createdAt: number;
  multivariate: MultivariateReference | null;
  centers: ReadonlyMap<string, number>;
}

/** The centers of a reference's numeric feature sketches, with the profile they are from. */
export interface ReferenceCenters {
  id: string;
  centers: ReadonlyMap<string, number>;
}

export interface ActiveScorer {
  id: string;
  scorer: ReconstructionScorer;
  /** Scores schema-decoded events (BufferedScorer), one per feature schema, made on first use. */
  buffered: WeakMap<FeatureSchema, BufferedScorer>;
}

export class WorkerReferences {
  /** Keyed like the registry: model, or `${model}\0${version}` for a version's own profile. */
  private readonly known = new Map<string, Map<string, KnownReference>>();
  private readonly active = new Map<string, ActiveScorer | null>();
  private readonly activeCenters = new Map<string, ReferenceCenters>();

  setReference(profile: ReferenceProfile): void {
    const key = keyOf(profile.model, profile.version);
    let known = this.known.get(key);
    if (known === undefined) this.known.set(key, (known = new Map()));
    known.set(profile.id, { id: profile.id, createdAt: profile.createdAt, multivariate: profile.multivariate ?? null, centers: featureCentersOf(profile) });
    this.refresh(key);
  }

  removeReference(id: string): void {
    for (const [key, known] of this.known) if (known.delete(id)) this.refresh(key);
  }

  /**
   * The scorer of a model version's active reference (the version's own, else the model's); null
   * when that reference has no multivariate model (a window capture, an older profile) or there is none.
   */
  scorerFor(model: string, version: string): ActiveScorer | null {
    const own = keyOf(model, version);
    return (this.active.has(own) ? this.active.get(own) : this.active.get(model)) ?? null;
  }

  /**
   * The feature centers a worker's panes of a model version take (FeatureCenters in window/pane.ts):
   * those of the model's active reference, else of the version's own; null when there is none.
   * The gateway holds a model's windows on the buckets of its model reference where it has one
   * (ReferenceRegistry.featureBuckets), and a reference captured from the windows is on theirs: panes
   * of every partition centered alike then merge into the windows bucket by bucket, where panes
   * centered on each partition's own first values were rebinned one by one (LogHistogram.rebinnedLike:
   * with re-encoding the moved state, a quarter of the gateway's CPU per pane message).
   */
  centersFor(model: string, version: string): ReferenceCenters | null {
    return this.activeCenters.get(model) ?? this.activeCenters.get(keyOf(model, version)) ?? null;
  }

  /** Scores an event's features with `active` (from scorerFor) and adds the error to the pane. */
  observeWith(pane: PaneInput, active: ActiveScorer, features: FeatureRow): void {
    const { error, imputed } = active.scorer.score(features);
    pane.addReconstructionError(active.id, error, imputed);
  }

  /**
   * observeWith for an event the worker decoded into `buffer` by `schema` index: the same error
   * and imputed count as scoring its features by name, without building a record of them.
   */
  observeBuffered(pane: PaneInput, active: ActiveScorer, schema: FeatureSchema, buffer: FeatureBuffer): void {
    let scorer = active.buffered.get(schema);
    if (scorer === undefined) active.buffered.set(schema, (scorer = new BufferedScorer(active.scorer.compiled, schema)));
    const error = scorer.score(buffer);
    pane.addReconstructionError(active.id, error, scorer.imputed);
  }

  /** The worker's hot-path call for events decoded by name: scorerFor, then observeWith. */
  observe(pane: PaneInput, model: string, version: string, features: FeatureRow): void {
    const active = this.scorerFor(model, version);
    if (active !== null) this.observeWith(pane, active, features);
  }

  /** Makes the newest known profile of a key active; a profile without a model means none. */
  private refresh(key: string): void {
    let newest: KnownReference | undefined;
    for (const candidate of this.known.get(key)?.values() ?? []) {
      if (newest === undefined || candidate.createdAt > newest.createdAt || (candidate.createdAt === newest.createdAt && candidate.id > newest.id)) newest = candidate;
    }
    if (newest === undefined) {
      this.active.delete(key);
      this.activeCenters.delete(key);
      return;
    }
    this.activeCenters.set(key, { id: newest.id, centers: newest.centers });
    // the active profile of a version shadows the model's even without a model of its own, as in the gateway
    if (this.active.get(key)?.id === newest.id) return;
    this.active.set(key, newest.multivariate === null ? null : { id: newest.id, scorer: new ReconstructionScorer(newest.multivariate.model), buffered: new WeakMap() });
  }
}

/** The center of each numeric feature's sketch in a profile (a profile read from bytes has them as LogHistograms). */
function featureCentersOf(profile: ReferenceProfile): ReadonlyMap<string, number> {
  const centers = new Map<string, number>();
  for (const [name, reference] of Object.entries(profile.features)) {
    if (reference.type === 'numeric' && reference.summary instanceof LogHistogram && Number.isFinite(reference.summary.center)) centers.set(name, reference.summary.center);
  }
  return centers;
}

function keyOf(model: string, version: string | null): string {
  return version === null ? model : `${model}\u0000${version}`;
}

/**
 * The references kept current from the reference object store: every stored profile, then each
 * change (the gateway's own sequence, src/app/gateway.ts). Returns them and a function that stops following.
 */
export async function followWorkerReferences(store: ReferenceStore, onError: (error: Error) => void): Promise<{ references: WorkerReferences; stop: () => void }> {
  const references = new WorkerReferences();
  for (const profile of await store.list()) references.setReference(profile);
  const stop = await store.follow(
    (profile) => references.setReference(profile),
    (id) => references.removeReference(id),
    onError,
  );
  return { references, stop };
}

/**
 * ReconstructionScorer.score for an event held in a FeatureBuffer: each model column is found by
 * its feature's schema index (bound once, again when the schema grows), the event's values are
 * spread by index, and the imputation and category rows are the same as scoring by name, then
 * the same CompiledReconstruction.error, so the error is the same double
 * (test/reference/multivariate-buffered.test.ts compares them bit for bit).
 */
// Module constants read in the hot loop (an imported binding is loaded through its module cell)
const NUMBER = FEATURE_NUMBER;
const STRING = FEATURE_STRING;

export class BufferedScorer {
  /** Features of the last event scored that were missing and imputed. */
  imputed = 0;
  readonly model: PcaReconstructionModel;
  private readonly numericAt: Int32Array;
  private readonly categoricalAt: Int32Array;
  /** schema.size when the columns were bound: a name interned since may be one of the model's. */
  private boundSize = -1;
  // The event's values by schema index; `seenIn` stamps the indexes it carries.
  private readonly seenIn: Uint32Array;
  private readonly kindAt: Uint8Array;
  private readonly numberAt: Float64Array;
  private readonly stringAt: string[];
  private stamp = 0;
  private readonly values: Float64Array;
  private readonly categoryRows: Int32Array;

  constructor(
    readonly compiled: CompiledReconstruction,
    readonly schema: FeatureSchema,
  ) {
    const model = (this.model = compiled.model);
    this.numericAt = new Int32Array(model.numeric.length).fill(-1);
    this.categoricalAt = new Int32Array(model.categorical.length).fill(-1);
    this.seenIn = new Uint32Array(schema.maxNames);
    this.kindAt = new Uint8Array(schema.maxNames);
    this.numberAt = new Float64Array(schema.maxNames);
    this.stringAt = new Array<string>(schema.maxNames).fill('');
    this.values = new Float64Array(model.numeric.length);
    this.categoryRows = new Int32Array(model.categorical.length);
  }

  private bind(): void {
    const { model, schema } = this;
    // indexOf would intern a name no event carried: look the names up among those interned
    const indexOf = new Map(schema.names.map((name, index) => [name, index]));
    model.numeric.forEach((column, c) => (this.numericAt[c] = indexOf.get(column.name) ?? -1));
    model.categorical.forEach((column, c) => (this.categoricalAt[c] = indexOf.get(column.name) ?? -1));
    this.boundSize = schema.size;
  }

  /** The reconstruction error of the buffered event; `imputed` is set alongside. */
  score(buffer: FeatureBuffer): number {
    if (this.schema.size !== this.boundSize) this.bind();
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.seenIn.fill(0);
      this.stamp = 1;
    }
    const { stamp, seenIn, kindAt, numberAt, stringAt } = this;
    const { indexes, kinds, numbers, strings } = buffer;
    for (let k = 0, n = buffer.count; k < n; k++) {
      const index = indexes[k];
      seenIn[index] = stamp;
      const kind = kinds[k];
      kindAt[index] = kind;
      if (kind === NUMBER) numberAt[index] = numbers[k];
      else if (kind === STRING) stringAt[index] = strings[k];
    }
    // as ReconstructionScorer.score: a numeric column takes a finite number (the buffer holds no
    // other), else its mean; a categorical one its text (a number's as String gives it), else the
    // most frequent
    const { model, compiled, values, categoryRows } = this;
    let imputed = 0;
    const numeric = model.numeric;
    for (let c = 0; c < numeric.length; c++) {
      const index = this.numericAt[c];
      if (index >= 0 && seenIn[index] === stamp && kindAt[index] === NUMBER) values[c] = numberAt[index];
      else {
        imputed++;
        values[c] = numeric[c].mean;
      }
    }
    const categorical = model.categorical;
    for (let c = 0; c < categorical.length; c++) {
      const index = this.categoricalAt[c];
      let category: string | null = null;
      if (index >= 0 && seenIn[index] === stamp) {
        const kind = kindAt[index];
        if (kind === STRING) category = stringAt[index] === '' ? null : stringAt[index];
        else if (kind === NUMBER) category = String(numberAt[index]);
      }
      if (category === null) {
        imputed++;
        category = categorical[c].mostFrequent;
      }
      categoryRows[c] = compiled.categoryIndex(c, category);
    }
    this.imputed = imputed;
    return compiled.error(values, categoryRows);
  }
}
