/**
 * Scheduled drift: what changes in the simulated traffic, when, and for how long.
 * Times are milliseconds from the start of the run, so a schedule reads the same in every run.
 */

export const DRIFT_KINDS = ['covariate', 'prior', 'concept', 'latency', 'error_rate', 'fairness', 'canary', 'segment', 'correlation'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export interface DriftSpec {
  /** Start, ms from the start of the run. */
  at: number;
  kind: DriftKind;
  /**
   * Size of the change; meaning and default per kind:
   * - covariate: mean shift in standard deviations of the feature (default 1); for a categorical
   *   feature, the share of traffic drawn from the reversed category distribution is magnitude/2.
   * - prior: change of the positive-class (or first-listed target class) rate, absolute (default +0.2).
   * - concept: how far the true feature-label relation is flipped, 0..1 (default 1, ~15 points of accuracy).
   * - latency: added milliseconds (default 80).
   * - error_rate: the error probability while active, 0..1 (default 0.1).
   * - fairness: logit units taken off group b's positive-class score (default 1.5).
   * - canary: degradation of version v2's scores, in units of extra logit noise (default 1).
   * - segment: share of segment group b's answers made wrong, 0..1 (default 0.15: group b's
   *   accuracy falls by 15 % of itself, ~13 points at 90 %), a worst segment to find.
   * - correlation: the correlation rho of the two `features` (Gaussian copula), in (-1, 1)
   *   (default 0.8). Unlike the other kinds it shapes the whole run: the pair moves together with
   *   +rho from the start, with -rho while the drift is active, and with +rho again after
   *   `until`. Each feature keeps its own distribution exactly; only how they move together
   *   changes, which no single-feature test can see.
   */
  magnitude?: number;
  /** covariate only: the feature to shift (default 'f0'). */
  feature?: string;
  /** correlation only: the two numeric features whose correlation flips (default ['f0', 'f3']). */
  features?: readonly [string, string];
  /** End, ms from the start of the run (exclusive); absent = until the run ends. */
  until?: number;
  /** Only this model drifts; absent = every model. */
  model?: string;
}

export type DriftSchedule = readonly DriftSpec[];

export const DEFAULT_MAGNITUDE: Readonly<Record<DriftKind, number>> = {
  covariate: 1,
  prior: 0.2,
  concept: 1,
  latency: 80,
  error_rate: 0.1,
  fairness: 1.5,
  canary: 1,
  segment: 0.15,
  correlation: 0.8,
};

export const DEFAULT_COVARIATE_FEATURE = 'f0';
/**
 * The fraud model's f0 drives its score and f3 does not enter it at all: flipping their
 * correlation changes neither feature, nor the scores, nor the labels, only the joint distribution.
 */
export const DEFAULT_CORRELATION_FEATURES: readonly [string, string] = ['f0', 'f3'];
/** Numeric distributions the correlation drift can couple while keeping each exactly (by inverse CDF). */
export const CORRELATABLE_DISTRIBUTIONS: readonly string[] = ['normal', 'uniform', 'lognormal', 'exponential'];

export function correlationFeatures(spec: DriftSpec): readonly [string, string] {
  return spec.features ?? DEFAULT_CORRELATION_FEATURES;
}

export function driftMagnitude(spec: DriftSpec): number {
  return spec.magnitude ?? DEFAULT_MAGNITUDE[spec.kind];
}

export function isDriftActive(spec: DriftSpec, offsetMs: number): boolean {
  return offsetMs >= spec.at && (spec.until === undefined || offsetMs < spec.until);
}

export function isDriftKind(value: string): value is DriftKind {
  return (DRIFT_KINDS as readonly string[]).includes(value);
}

/** Short human label for logs: `covariate(f0,+1)`, `latency(+80ms)`. */
export function describeDrift(spec: DriftSpec): string {
  const m = driftMagnitude(spec);
  const scope = spec.model === undefined ? '' : `${spec.model}:`;
  switch (spec.kind) {
    case 'covariate':
      return `${scope}covariate(${spec.feature ?? DEFAULT_COVARIATE_FEATURE},${m >= 0 ? '+' : ''}${m}sd)`;
    case 'latency':
      return `${scope}latency(${m >= 0 ? '+' : ''}${m}ms)`;
    case 'error_rate':
      return `${scope}error_rate(${m})`;
    case 'correlation':
      return `${scope}correlation(${correlationFeatures(spec).join('+')},${m}->${-m})`;
    default:
      return `${scope}${spec.kind}(${m})`;
  }
}

/**
 * Checks a schedule and throws a RangeError naming the entry and the field that is wrong.
 * `featuresOf(model)` lists the features a model has, for covariate drift (undefined = unknown model).
 */
export function validateDriftSchedule(
  schedule: DriftSchedule,
  models: readonly { name: string; features: readonly string[]; numeric?: readonly { name: string; distribution: { kind: string } }[] }[],
): void {
  /** Features already in a correlation entry, and which: a feature follows one partner only. */
  const correlated = new Map<string, number>();
  schedule.forEach((spec, i) => {
    const where = `drift[${i}] (${String(spec.kind)}@${spec.at}ms)`;
    if (!isDriftKind(String(spec.kind))) {
      throw new RangeError(`${where}: kind must be one of ${DRIFT_KINDS.join(', ')}, got "${String(spec.kind)}"`);
    }
    if (!Number.isFinite(spec.at) || spec.at < 0) {
      throw new RangeError(`${where}: at must be a finite number of ms >= 0, got ${spec.at}`);
    }
    if (spec.until !== undefined && (!Number.isFinite(spec.until) || spec.until <= spec.at)) {
      throw new RangeError(`${where}: until must be a finite number of ms after at (${spec.at}), got ${spec.until}`);
    }
    if (spec.magnitude !== undefined && !Number.isFinite(spec.magnitude)) {
      throw new RangeError(`${where}: magnitude must be a finite number, got ${spec.magnitude}`);
    }
    const m = driftMagnitude(spec);
    if (spec.kind === 'error_rate' && (m < 0 || m > 1)) {
      throw new RangeError(`${where}: magnitude is an error probability and must be in [0, 1], got ${m}`);
    }
    if (spec.kind === 'segment' && (m < 0 || m > 1)) {
      throw new RangeError(`${where}: magnitude is the share of group b's answers made wrong and must be in [0, 1], got ${m}`);
    }
    if (spec.kind === 'concept' && (m < 0 || m > 1)) {
      throw new RangeError(`${where}: magnitude is the flipped share of the relation and must be in [0, 1], got ${m}`);
    }
    if (spec.kind === 'prior' && (m <= -1 || m >= 1)) {
      throw new RangeError(`${where}: magnitude is a change of a class rate and must be in (-1, 1), got ${m}`);
    }
    if (spec.kind === 'correlation' && !(m > -1 && m < 1)) {
      throw new RangeError(`${where}: magnitude is a correlation and must be in (-1, 1), got ${m}`);
    }
    if (spec.kind === 'canary' && m < 0) {
      throw new RangeError(`${where}: magnitude must be >= 0 for canary drift, got ${m}`);
    }
    const scoped = spec.model === undefined ? models : models.filter((model) => model.name === spec.model);
    if (spec.model !== undefined && scoped.length === 0) {
      throw new RangeError(
        `${where}: model "${spec.model}" is not simulated (models: ${models.map((model) => model.name).join(', ')})`,
      );
    }
    if (spec.feature !== undefined && spec.kind !== 'covariate') {
      throw new RangeError(`${where}: feature only applies to covariate drift${spec.kind === 'correlation' ? ' (correlation drift takes features=a+b)' : ''}`);
    }
    if (spec.features !== undefined && spec.kind !== 'correlation') {
      throw new RangeError(`${where}: features only applies to correlation drift`);
    }
    if (spec.kind === 'correlation') {
      const pair = correlationFeatures(spec);
      if (pair.length !== 2 || pair[0] === pair[1]) {
        throw new RangeError(`${where}: features must name two different features, got "${pair.join('+')}"`);
      }
      const holders = scoped.filter((model) => pair.every((name) => model.features.includes(name)));
      if (holders.length === 0) {
        const known = [...new Set(scoped.flatMap((model) => (model.numeric ?? []).map((f) => f.name)))].join(', ');
        throw new RangeError(`${where}: features "${pair.join('+')}" are not both features of one simulated model; numeric features: ${known}`);
      }
      for (const model of holders) {
        for (const name of pair) {
          const numeric = model.numeric?.find((f) => f.name === name);
          if (numeric === undefined) throw new RangeError(`${where}: feature "${name}" of model ${model.name} is categorical; correlation drift needs numeric features`);
          if (!CORRELATABLE_DISTRIBUTIONS.includes(numeric.distribution.kind)) {
            throw new RangeError(
              `${where}: feature "${name}" of model ${model.name} is ${numeric.distribution.kind}; correlation drift keeps a marginal exactly only for ${CORRELATABLE_DISTRIBUTIONS.join(', ')} features`,
            );
          }
        }
      }
      for (const name of pair) {
        const other = correlated.get(name);
        if (other !== undefined) throw new RangeError(`${where}: feature "${name}" is already in correlation drift[${other}]; a feature can follow one partner only`);
        correlated.set(name, i);
      }
    }
    if (spec.kind === 'covariate') {
      const feature = spec.feature ?? DEFAULT_COVARIATE_FEATURE;
      if (!scoped.some((model) => model.features.includes(feature))) {
        const known = [...new Set(scoped.flatMap((model) => model.features))].join(', ');
        throw new RangeError(`${where}: feature "${feature}" is not a feature of the simulated model(s); known: ${known}`);
      }
    }
  });
}

/**
 * Parses a duration: `500ms`, `60s`, `1.5m`, `2h`; a bare number is `bareUnit` (seconds by default).
 * Throws with `what` in the message.
 */
export function parseDurationMs(text: string, what: string, bareUnit: 'ms' | 's' = 's'): number {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) {
    throw new RangeError(`${what}: expected a duration like 500ms, 60s, 1.5m or 2h, got "${text}"`);
  }
  const value = Number(match[1]);
  const unit = match[2] ?? bareUnit;
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(value * factor);
}

/**
 * Parses `kind@time[:key=value,...]`, e.g. `covariate@60s:feature=f0,magnitude=1`,
 * `latency@90s:magnitude=80,until=150s` or `correlation@60s:features=f0+f3,magnitude=0.8`.
 * Keys: feature, features, magnitude, until, model.
 */
export function parseDriftSpec(text: string): DriftSpec {
  const where = `drift "${text}"`;
  const at = text.indexOf('@');
  if (at < 0) {
    throw new RangeError(`${where}: expected kind@time[:key=value,...], e.g. covariate@60s:feature=f0,magnitude=1`);
  }
  const kind = text.slice(0, at).trim();
  if (!isDriftKind(kind)) {
    throw new RangeError(`${where}: kind must be one of ${DRIFT_KINDS.join(', ')}, got "${kind}"`);
  }
  const rest = text.slice(at + 1);
  const colon = rest.indexOf(':');
  const timeText = colon < 0 ? rest : rest.slice(0, colon);
  const spec: DriftSpec = { kind, at: parseDurationMs(timeText, `${where}: start time`) };
  if (colon < 0) return spec;
  const params = rest.slice(colon + 1);
  if (params.trim() === '') return spec;
  const mutable: { -readonly [K in keyof DriftSpec]: DriftSpec[K] } = spec;
  for (const pair of params.split(',')) {
    const eq = pair.indexOf('=');
    if (eq < 0) throw new RangeError(`${where}: expected key=value, got "${pair}"`);
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    switch (key) {
      case 'feature':
      case 'model':
        if (value === '') throw new RangeError(`${where}: ${key} must not be empty`);
        mutable[key] = value;
        break;
      case 'features': {
        const names = value.split('+').map((name) => name.trim());
        if (names.length !== 2 || names.some((name) => name === '')) {
          throw new RangeError(`${where}: features must be two feature names joined by '+', e.g. features=f0+f3, got "${value}"`);
        }
        mutable.features = [names[0], names[1]];
        break;
      }
      case 'magnitude': {
        const magnitude = Number(value);
        if (value === '' || !Number.isFinite(magnitude)) {
          throw new RangeError(`${where}: magnitude must be a finite number, got "${value}"`);
        }
        mutable.magnitude = magnitude;
        break;
      }
      case 'until':
        mutable.until = parseDurationMs(value, `${where}: until`);
        break;
      default:
        throw new RangeError(`${where}: unknown key "${key}" (expected feature, features, magnitude, until or model)`);
    }
  }
  if (spec.until !== undefined && spec.until <= spec.at) {
    throw new RangeError(`${where}: until (${spec.until} ms) must be after the start (${spec.at} ms)`);
  }
  return spec;
}

/**
 * The schedule `npm run demo` uses: a clean first minute (time to capture a reference), then a
 * covariate shift on f0 at 60 s and a latency regression at 75 s, so an operator sees a feature
 * drift alert and a latency alert within about two minutes; the latency regression ends at 5 min,
 * so its alert is seen resolving too.
 */
export function demoSchedule(): DriftSpec[] {
  return [
    { at: 60_000, kind: 'covariate', feature: 'f0', magnitude: 1.5 },
    { at: 75_000, kind: 'latency', magnitude: 80, until: 300_000 },
  ];
}
