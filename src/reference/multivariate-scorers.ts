import { ReconstructionScorer } from '../stats/pca-reconstruction.ts';
import type { FeatureRow, MultivariateReference } from '../stats/pca-reconstruction.ts';
import type { PaneInput } from '../window/pane.ts';
import type { ReferenceProfile } from './profile.ts';
import type { ReferenceStore } from './store.ts';

/**
 * A worker's view of the active reference of each model (and of each version with its own), for
 * multivariate drift only: the PCA model to score events against. It follows the object store as
 * the gateway's ReferenceRegistry does and picks the same profile (the newest by creation time,
 * then id), so the errors a worker sums are against the reference the gateway judges them by;
 * panes key their sums by profile id, so a worker that lags a change only adds sums the gateway
 * leaves aside.
 */

interface KnownReference {
  id: string;
  createdAt: number;
  multivariate: MultivariateReference | null;
}

export interface ActiveScorer {
  id: string;
  scorer: ReconstructionScorer;
}

export class MultivariateScorers {
  /** Keyed like the registry: model, or `${model}\0${version}` for a version's own profile. */
  private readonly known = new Map<string, Map<string, KnownReference>>();
  private readonly active = new Map<string, ActiveScorer | null>();

  setReference(profile: ReferenceProfile): void {
    const key = keyOf(profile.model, profile.version);
    let known = this.known.get(key);
    if (known === undefined) this.known.set(key, (known = new Map()));
    known.set(profile.id, { id: profile.id, createdAt: profile.createdAt, multivariate: profile.multivariate ?? null });
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

  /** Scores an event's features with `active` (from scorerFor) and adds the error to the pane. */
  observeWith(pane: PaneInput, active: ActiveScorer, features: FeatureRow): void {
    const { error, imputed } = active.scorer.score(features);
    pane.addReconstructionError(active.id, error, imputed);
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
      return;
    }
    // the active profile of a version shadows the model's even without a model of its own, as in the gateway
    if (this.active.get(key)?.id === newest.id) return;
    this.active.set(key, newest.multivariate === null ? null : { id: newest.id, scorer: new ReconstructionScorer(newest.multivariate.model) });
  }
}

function keyOf(model: string, version: string | null): string {
  return version === null ? model : `${model}\u0000${version}`;
}

/**
 * Scorers kept current from the reference object store: every stored profile, then each change
 * (the gateway's own sequence, src/app/gateway.ts). Returns them and a function that stops following.
 */
export async function followMultivariateReferences(store: ReferenceStore, onError: (error: Error) => void): Promise<{ scorers: MultivariateScorers; stop: () => void }> {
  const scorers = new MultivariateScorers();
  for (const profile of await store.list()) scorers.setReference(profile);
  const stop = await store.follow(
    (profile) => scorers.setReference(profile),
    (id) => scorers.removeReference(id),
    onError,
  );
  return { scorers, stop };
}
