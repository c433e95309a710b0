import type { Logger } from 'pino';
import type { ReferenceProfile } from '../reference/profile.ts';
import { profileFromWindow } from '../reference/profile.ts';
import { LogHistogram } from '../sketch/log-histogram.ts';
import { newProfileId } from '../reference/store.ts';
import type { ModelWindows } from '../window/windows.ts';
import { ModelSignal } from './model-signal.ts';
import type { ModelListener } from './model-signal.ts';

export interface ReferenceRegistryOptions {
  /** Length of the automatic reference taken from a model's first minutes; 0 disables it. */
  autoCaptureMs: number;
  logger: Logger;
  /** Persists an automatically captured profile; a failure is logged, the profile stays active. */
  saveReference?: (profile: ReferenceProfile) => Promise<void>;
  /**
   * Reads the stored profiles of these models (the object store). With it, a model the registry
   * knows nothing of is looked up when it arrives (`modelArrived`), so the profiles of a released
   * model come back with it; without it, nothing is looked up.
   */
  loadReferences?: (models: ReadonlySet<string>) => Promise<ReferenceProfile[]>;
  /**
   * How long (wall clock) an automatic capture waits once event time has passed its range, for the
   * states of that range still on their way (default 0: captured at once). Event time moves on
   * with any one partition's state, while another partition's state of the same panes can come up
   * to its flush interval and sparse hold later: `npm start` with 2,000 predictions of one model
   * published over 5 minutes of event time in a few seconds captured a reference of 22 rows where
   * its range held 336. The gateway sets REFERENCE_SETTLE_MARGIN_MS more than a partition holds a state.
   */
  settleMs?: number;
  /** Wall clock for settleMs; default Date.now. */
  now?: () => number;
}

/**
 * How far the pane changelog has been read (the gateway's PaneChangelogReader): a capture waits,
 * after its settle, until the messages published before the settle ended are read. The settle alone
 * is wall time: a gateway replaying its changelog at start-up, or far behind it under load, had
 * states of the range still unread when it ended.
 */
export interface ChangelogPosition {
  /** Pane messages delivered so far (applied or refused): one more per message. */
  readonly delivered: number;
  /** Pane messages published and not yet delivered, as of the last one delivered. */
  readonly pending: number;
}

/** How often a capture waiting for the changelog looks again (the model may bring no change to be evaluated on). */
export const CHANGELOG_RECHECK_MS = 1000;

/** A model's automatic capture that is due: since when (wall clock), and the changelog's position once its settle ended. */
interface CaptureWait {
  since: number;
  /** Null until the settle ended; then what had to be read: `pending` more messages after `delivered`. */
  mark: { delivered: number; pending: number } | null;
}

/** What the gateway adds to a partition's longest hold of a state (flush interval and sparse hold) for ReferenceRegistryOptions.settleMs: delivery and apply. */
export const REFERENCE_SETTLE_MARGIN_MS = 1000;

/**
 * The active reference profile of each model, and of each version that has one of its own. A
 * profile replaces the active one unless it is older (profiles arrive from uploads, captures,
 * the object store's history and its watcher, in any order: the newest wins everywhere).
 */
export class ReferenceRegistry {
  /** Keyed by model, or `${model}\0${version}` for a version's own profile. */
  private readonly active = new Map<string, ReferenceProfile>();
  /** Every profile known for a key (by id): deleting the one in force falls back to the newest remaining. */
  private readonly known = new Map<string, Map<string, ReferenceProfile>>();
  /** Profiles whose sketches' bucket arrays are packed into one buffer (LogHistogram.packArrays): each once. */
  private readonly packed = new WeakSet<ReferenceProfile>();
  /** The keys of `known` (and `active`) of each model, so a model's entries can be found without a scan. */
  private readonly keysOf = new Map<string, Set<string>>();
  private readonly changed = new ModelSignal();
  /** Models waiting to be looked up in the store, and models being looked up now (no capture meanwhile). */
  private readonly toLoad = new Set<string>();
  private readonly loading = new Set<string>();
  private loadRun: Promise<void> | null = null;
  /** Models whose automatic capture is due and waits: for settleMs, then for the changelog. */
  private readonly waits = new Map<string, CaptureWait>();
  private readonly settleTimers = new Map<string, NodeJS.Timeout>();
  private changelog: ChangelogPosition | null = null;

  constructor(private readonly options: ReferenceRegistryOptions) {
    const settleMs = options.settleMs ?? 0;
    if (!(settleMs >= 0 && Number.isFinite(settleMs))) throw new RangeError(`ReferenceRegistry: settleMs must be a number of ms >= 0, got ${String(options.settleMs)}`);
  }

  /**
   * The changelog's reading that captures wait for once settled (ChangelogPosition); without it a
   * capture waits for settleMs alone. Set once the gateway's reader exists (after the registry).
   */
  followChangelog(changelog: ChangelogPosition): void {
    this.changelog = changelog;
  }

  /** Called with the model's name whenever its active reference (or a version's) changes. */
  onReferenceChanged(listener: ModelListener): void {
    this.changed.subscribe(listener);
  }

  /** The version's own profile, else the model's; null when there is none. */
  referenceFor(model: string, version?: string): ReferenceProfile | null {
    if (version !== undefined) {
      const own = this.active.get(`${model}\u0000${version}`);
      if (own) return own;
    }
    return this.active.get(model) ?? null;
  }

  /**
   * The sketch of a numeric feature of a model's reference (the model's own, not a version's), for
   * the windows to hold the feature on its buckets (WindowStoreOptions.referenceBuckets); undefined
   * when there is none.
   */
  featureBuckets(model: string, feature: string): LogHistogram | undefined {
    const features = this.active.get(model)?.features;
    const reference = features !== undefined && Object.hasOwn(features, feature) ? features[feature] : undefined;
    return reference?.type === 'numeric' && reference.summary instanceof LogHistogram ? reference.summary : undefined;
  }

  /** Makes a profile the active reference of its model (and version), unless a newer one is active. */
  setReference(profile: ReferenceProfile): void {
    const key = profile.version === null ? profile.model : `${profile.model}\u0000${profile.version}`;
    let known = this.known.get(key);
    if (known === undefined) this.known.set(key, (known = new Map()));
    let keys = this.keysOf.get(profile.model);
    if (keys === undefined) this.keysOf.set(profile.model, (keys = new Set()));
    keys.add(key);
    known.set(profile.id, profile);
    if (!this.packed.has(profile)) {
      // held as long as it is known, and read, not changed: its arrays in one buffer, not one each
      this.packed.add(profile);
      const sketches: LogHistogram[] = [];
      for (const feature of Object.values(profile.features)) if (feature.type === 'numeric' && feature.summary instanceof LogHistogram) sketches.push(feature.summary);
      LogHistogram.packArrays(sketches);
    }
    const current = this.active.get(key);
    if (current !== undefined && current.id !== profile.id && isNewer(current, profile)) return;
    this.active.set(key, profile);
    this.changed.notify(profile.model);
  }

  /** A known profile (active or not) by id. */
  profileById(id: string): ReferenceProfile | null {
    for (const known of this.known.values()) {
      const profile = known.get(id);
      if (profile !== undefined) return profile;
    }
    return null;
  }

  /**
   * Forgets a deleted profile; if it was in force, the newest remaining profile of its model (and
   * version) takes over, else the model has no reference until another is set.
   */
  removeReference(id: string): void {
    for (const known of this.known.values()) known.delete(id);
    for (const [key, profile] of this.active) {
      if (profile.id !== id) continue;
      let newest: ReferenceProfile | undefined;
      for (const candidate of this.known.get(key)?.values() ?? []) if (newest === undefined || isNewer(candidate, newest)) newest = candidate;
      if (newest === undefined) this.active.delete(key);
      else this.active.set(key, newest);
      this.changed.notify(profile.model);
    }
  }

  /** Whether the registry holds any profile of the model (its own or a version's). */
  knowsModel(model: string): boolean {
    return this.keysOf.has(model);
  }

  /**
   * Forgets every profile of a model (its own and its versions'), for a model the gateway no longer
   * holds. Nothing is lost: every profile the registry holds is in the object store (uploads are
   * stored before they are set, automatic captures are saved as they are taken, the rest were read
   * from it), and `modelArrived` reads them back when the model returns. Listeners are not told:
   * nothing is computed for a model that is not held.
   */
  releaseModel(model: string): void {
    for (const key of this.keysOf.get(model) ?? []) {
      this.active.delete(key);
      this.known.delete(key);
    }
    this.keysOf.delete(model);
    this.toLoad.delete(model);
    this.loading.delete(model);
    this.forgetWait(model);
  }

  /** Forgets the profiles of every model but those `keep` says (once, after start-up: see the gateway). */
  releaseModelsExcept(keep: (model: string) => boolean): number {
    let released = 0;
    for (const model of [...this.keysOf.keys()]) {
      if (keep(model)) continue;
      this.releaseModel(model);
      released++;
    }
    return released;
  }

  /**
   * A model the gateway starts holding: if the registry knows none of its profiles (a new model, or
   * one released), they are read from the store, with those of other models arriving meanwhile in
   * one read. Until the read is done the model is not captured automatically (its stored reference
   * may be on its way); a failed read is logged and the model is treated as having none.
   */
  modelArrived(model: string): void {
    if (this.options.loadReferences === undefined || this.knowsModel(model) || this.loading.has(model)) return;
    this.toLoad.add(model);
    this.startLoading();
  }

  /** Resolves once no look-up is waiting or running (for tests). */
  async settled(): Promise<void> {
    while (this.loadRun !== null) await this.loadRun;
  }

  private startLoading(): void {
    const load = this.options.loadReferences;
    if (load === undefined || this.loadRun !== null || this.toLoad.size === 0) return;
    const batch = new Set(this.toLoad);
    this.toLoad.clear();
    for (const model of batch) this.loading.add(model);
    this.loadRun = load(batch)
      .then(
        (profiles) => {
          // a model released while its read ran is left out (its place has gone to another)
          for (const profile of profiles.sort((a, b) => a.createdAt - b.createdAt)) if (this.loading.has(profile.model)) this.setReference(profile);
        },
        (error: unknown) => this.options.logger.warn({ err: (error as Error).message, models: batch.size }, 'reading the reference profiles of arriving models failed: they have none until one is set'),
      )
      .finally(() => {
        for (const model of batch) {
          if (!this.loading.delete(model)) continue;
          // due again: a capture skipped while the store was read can be taken now (if none was found)
          this.changed.notify(model);
        }
        this.loadRun = null;
        this.startLoading();
      });
  }

  /**
   * Takes a model's first `autoCaptureMs` of traffic as its reference when it has none, once event
   * time has passed that range by one pane, `settleMs` of wall time have passed since and the
   * changelog has been read as far as it went then (so the range's states from every partition are
   * in). Returns the captured profile.
   */
  captureIfDue(windows: ModelWindows): ReferenceProfile | null {
    const autoMs = this.options.autoCaptureMs;
    const model = windows.model;
    if (this.active.has(model)) {
      // one set while a capture waited (an upload): nothing waits any more
      this.forgetWait(model);
      return null;
    }
    if (autoMs <= 0 || !Number.isFinite(windows.firstPaneStart)) return null;
    if (this.toLoad.has(model) || this.loading.has(model)) return null;
    const from = windows.firstPaneStart;
    const to = from + autoMs;
    if (windows.end < to + windows.paneMs) return null;
    if (!this.captureSettled(model)) return null;
    const aggregate = windows.sumRange(from, to);
    if (aggregate.input.count === 0) return null;
    // a capture that runs late (a gateway replaying hours of changelog) may find the range in coarse panes
    const covered = windows.coveredRange(from, to);
    // deterministic id and creation time: every gateway replica captures the same profile under the same name
    const id = newProfileId(windows.model, null, 'auto', from);
    const profile = profileFromWindow(id, windows.model, null, 'auto', aggregate.input, aggregate.outcome, covered.from, covered.to);
    profile.createdAt = to;
    this.forgetWait(model);
    this.setReference(profile);
    const { logger, saveReference } = this.options;
    logger.info({ model: windows.model, reference: id, count: profile.count }, 'captured automatic reference profile');
    saveReference?.(profile).catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'saving reference failed'));
    return profile;
  }

  /**
   * Whether a model's due capture has waited settleMs, and then (followChangelog) until the pane
   * messages published before that are read. While it waits a timer tells the model's listeners
   * again, at the settle's end and every CHANGELOG_RECHECK_MS after: a burst that ended brings no
   * further change to evaluate the model on.
   */
  private captureSettled(model: string): boolean {
    const settleMs = this.options.settleMs ?? 0;
    const changelog = this.changelog;
    if (settleMs === 0 && changelog === null) return true;
    const now = (this.options.now ?? Date.now)();
    let wait = this.waits.get(model);
    if (wait === undefined) this.waits.set(model, (wait = { since: now, mark: null }));
    if (now - wait.since < settleMs) {
      this.tellAgain(model, wait.since + settleMs - now);
      return false;
    }
    if (changelog === null || changelog.pending === 0) return true;
    wait.mark ??= { delivered: changelog.delivered, pending: changelog.pending };
    if (changelog.delivered - wait.mark.delivered >= wait.mark.pending) return true;
    this.tellAgain(model, CHANGELOG_RECHECK_MS);
    return false;
  }

  /** Tells the model's listeners again in `ms` (unless a timer already will). */
  private tellAgain(model: string, ms: number): void {
    if (this.settleTimers.has(model)) return;
    const timer = setTimeout(() => {
      this.settleTimers.delete(model);
      this.changed.notify(model);
    }, ms);
    timer.unref();
    this.settleTimers.set(model, timer);
  }

  private forgetWait(model: string): void {
    this.waits.delete(model);
    clearTimeout(this.settleTimers.get(model));
    this.settleTimers.delete(model);
  }
}

/**
 * Whether profile a is newer than b: by creation time, then by id (uploaded ids sort in creation
 * order, src/reference/store.ts), so every replica picks the same one whatever order it learns them in.
 */
function isNewer(a: ReferenceProfile, b: ReferenceProfile): boolean {
  return a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id);
}
