import { profileFromBytes } from './profile.ts';
import type { ReferenceProfile } from './profile.ts';
import type { FeatureReference } from '../stats/select.ts';

/**
 * Checks on a profile before it goes live: that an uploaded one (summarised by the CLI) is
 * well-formed, and that any new profile describes enough rows and the features the model really
 * sends. A profile that fails them would silently switch drift checks off or make them scream.
 */

export type FeatureKind = 'numeric' | 'categorical';

/** Most features a profile may hold (the worker's `maxFeatures` ceiling). */
const MAX_PROFILE_FEATURES = 1024;

function isFiniteArray(values: unknown): boolean {
  if (values === undefined) return true;
  if (!Array.isArray(values) && !ArrayBuffer.isView(values)) return false;
  return Array.from(values as ArrayLike<unknown>).every((v) => typeof v === 'number' && Number.isFinite(v));
}

function featureProblem(name: string, reference: FeatureReference): string | null {
  if (reference.type === 'categorical') {
    const counts = reference.counts instanceof Map ? [...reference.counts.values()] : Object.values(reference.counts);
    if (counts.length === 0) return `${name}: a categorical reference without categories`;
    if (!counts.every((c) => typeof c === 'number' && Number.isFinite(c) && c >= 0)) return `${name}: category counts must be finite numbers >= 0`;
    return null;
  }
  if (reference.type !== 'numeric') return `${name}: type must be numeric or categorical`;
  if (!Number.isInteger(reference.count) || reference.count <= 0) return `${name}: count must be a positive integer`;
  if (!(Number.isFinite(reference.std) && reference.std >= 0)) return `${name}: std must be a finite number >= 0`;
  const edges = Array.from(reference.innerEdges);
  if (!isFiniteArray(edges) || edges.some((edge, i) => i > 0 && edge < edges[i - 1])) return `${name}: innerEdges must be ascending finite numbers`;
  const bins = Array.from(reference.binCounts);
  if (bins.length !== edges.length + 1 || !bins.every((c) => Number.isFinite(c) && c >= 0)) return `${name}: binCounts must be ${edges.length + 1} finite counts >= 0`;
  if (!isFiniteArray(reference.sample)) return `${name}: sample must hold finite numbers`;
  return null;
}

/** Decodes an uploaded profile (profileToBytes' format) and checks every part; throws an Error naming what is wrong. */
export function profileFromUpload(bytes: Uint8Array): ReferenceProfile {
  let profile: ReferenceProfile;
  try {
    profile = profileFromBytes(bytes);
  } catch (error) {
    throw new Error(`not a reference profile: ${(error as Error).message}`);
  }
  if (typeof profile !== 'object' || profile === null) throw new Error('not a reference profile');
  if (!Number.isInteger(profile.count) || profile.count < 0) throw new Error(`count must be an integer >= 0, got ${String(profile.count)}`);
  if (typeof profile.features !== 'object' || profile.features === null) throw new Error('features must be a map of name to reference');
  const names = Object.keys(profile.features);
  if (names.length > MAX_PROFILE_FEATURES) throw new Error(`${names.length} features, more than ${MAX_PROFILE_FEATURES}`);
  for (const name of names) {
    const problem = featureProblem(`features.${name}`, profile.features[name]);
    if (problem !== null) throw new Error(problem);
  }
  if (profile.output !== null && profile.output !== undefined) {
    const problem = featureProblem('output', profile.output);
    if (problem !== null) throw new Error(problem);
  }
  for (const key of ['accuracy', 'errorRate'] as const) {
    const value = profile[key];
    if (value !== null && value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 1)) throw new Error(`${key} must be null or a number in [0, 1]`);
  }
  if (profile.latencyP99 !== null && profile.latencyP99 !== undefined && !(typeof profile.latencyP99 === 'number' && Number.isFinite(profile.latencyP99))) {
    throw new Error('latencyP99 must be null or a finite number');
  }
  return { ...profile, accuracy: profile.accuracy ?? null, errorRate: profile.errorRate ?? null, latencyP99: profile.latencyP99 ?? null, output: profile.output ?? null };
}

export interface ActivationContext {
  /** Fewest rows a profile must describe (setting reference.minRows). */
  minRows: number;
  /** The model's live features and their kinds (its current window); null when it has no traffic yet. */
  liveFeatures: ReadonlyMap<string, FeatureKind> | null;
}

/** Why a profile should not go live: too few rows, live features it lacks, features the model does not send, or of another type. Empty: fine. */
export function activationProblems(profile: ReferenceProfile, context: ActivationContext): string[] {
  const problems: string[] = [];
  if (profile.count < context.minRows) {
    problems.push(`the profile describes ${profile.count.toLocaleString('en-US')} row${profile.count === 1 ? '' : 's'}, fewer than the minimum of ${context.minRows.toLocaleString('en-US')} (reference.minRows)`);
  }
  const live = context.liveFeatures;
  if (live === null) return problems;
  const missing = [...live.keys()].filter((name) => !Object.hasOwn(profile.features, name));
  const added = Object.keys(profile.features).filter((name) => !live.has(name));
  const retyped = Object.entries(profile.features).filter(([name, reference]) => live.has(name) && live.get(name) !== reference.type);
  if (missing.length > 0) problems.push(`features the model sends but the profile lacks (their drift would not be checked): ${missing.join(', ')}`);
  if (added.length > 0) problems.push(`features in the profile the model does not send: ${added.join(', ')}`);
  for (const [name, reference] of retyped) problems.push(`feature '${name}' is ${reference.type} in the profile but ${live.get(name)} in live traffic`);
  return problems;
}
