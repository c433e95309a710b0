/**
 * Which models and versions a partition counts. The processor asks synchronously, on its hot path;
 * the answer is `admitted`, `refused` (beyond limits.maxModels / maxVersionsPerModel),
 * `not_allowed` (not on models.allow) or `pending`: not decided yet, or not confirmed recently
 * enough to be sure it was not released. A pending model's events are held by the processor (in
 * order, and in its checkpoint) while the decision is asked for asynchronously, so the partition
 * keeps consuming the other models' events; when it arrives, `onResolved` listeners are called and
 * the held events are applied.
 *
 * `ClusterAdmission` takes its decisions from the cluster-wide registry (src/cluster/model-registry.ts),
 * so a model is counted by every partition of every worker or refused by all of them. It touches the
 * records of what it sees at least every `touchIntervalMs` and trusts a record for counting only
 * while it was seen within `idleMs − 2 × touchIntervalMs`: a record the sweep may release is
 * re-confirmed (a compare-and-set touch) before more events are counted under it, so no event is
 * counted under a decision that was released in the meantime.
 *
 * `LocalAdmission` is the same contract for a processor on its own (unit tests, benchmarks): caps
 * per partition, never pending.
 */
import type { Logger } from 'pino';
import type { NatsConnection } from '@nats-io/nats-core';
import { ModelRegistry, modelKey, versionKey } from '../cluster/model-registry.ts';

export type AdmissionVerdict = 'admitted' | 'refused' | 'not_allowed' | 'pending';

export interface AdmissionGate {
  /** The verdict for an event of `model` (`version` null: a label, which names no version). Never blocks. */
  verdict(model: string, version: string | null): AdmissionVerdict;
  /** Called with a model whose pending decision was settled; returns the unsubscribe function. */
  onResolved(listener: (model: string) => void): () => void;
  /** A processor restored a model version from its checkpoint. */
  adopt?(model: string, version: string): void;
  /** A processor dropped an idle model version from memory. */
  release?(model: string, version: string): void;
}

/** `models.allow`: model names or glob patterns (`*` any run of characters, `?` one). */
export class AllowList {
  private readonly patterns: RegExp[];
  constructor(readonly entries: readonly string[]) {
    this.patterns = entries.map((entry) => new RegExp(`^${entry.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  }

  allows(model: string): boolean {
    for (const pattern of this.patterns) if (pattern.test(model)) return true;
    return false;
  }
}

/** Characters a models.allow entry may hold: a model name's, plus the glob's `*` and `?`. */
export const ALLOW_ENTRY_PATTERN = /^[A-Za-z0-9_*?-]{1,128}$/;

class Listeners {
  private readonly listeners = new Set<(model: string) => void>();
  add(listener: (model: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  notify(model: string): void {
    for (const listener of this.listeners) listener(model);
  }
}

/** Per-partition caps, decided on the spot (a processor without a registry). */
export class LocalAdmission implements AdmissionGate {
  private readonly versionsByModel = new Map<string, Set<string>>();
  private readonly listeners = new Listeners();

  constructor(
    private readonly maxModels: number,
    private readonly maxVersionsPerModel: number,
    private readonly allow: AllowList | null = null,
  ) {}

  verdict(model: string, version: string | null): AdmissionVerdict {
    if (this.allow !== null && !this.allow.allows(model)) return 'not_allowed';
    let versions = this.versionsByModel.get(model);
    if (versions === undefined) {
      if (this.versionsByModel.size >= this.maxModels) return 'refused';
      versions = new Set();
      this.versionsByModel.set(model, versions);
    }
    if (version === null || versions.has(version)) return 'admitted';
    if (versions.size >= this.maxVersionsPerModel) return 'refused';
    versions.add(version);
    return 'admitted';
  }

  onResolved(listener: (model: string) => void): () => void {
    return this.listeners.add(listener);
  }

  adopt(model: string, version: string): void {
    let versions = this.versionsByModel.get(model);
    if (versions === undefined) this.versionsByModel.set(model, (versions = new Set()));
    versions.add(version);
  }

  release(model: string, version: string): void {
    const versions = this.versionsByModel.get(model);
    if (versions === undefined) return;
    versions.delete(version);
    if (versions.size === 0) this.versionsByModel.delete(model);
  }
}

/** What a worker's admission is configured with (plain data: it crosses to partition threads). */
export interface AdmissionSettings {
  maxModels: number;
  maxVersionsPerModel: number;
  idleMs: number;
  /** models.allow; empty: every model may be admitted. */
  allow: string[];
}

export interface ClusterAdmissionOptions {
  registry: ModelRegistry;
  /** A model or version not seen for this long is released cluster-wide. */
  idleMs: number;
  allow: AllowList | null;
  logger: Logger;
  now?: () => number;
}

/** A registry key as the hot path uses it: built once, marked seen once per touch round. */
interface KeyState {
  key: string;
  /** The touch round in which it was last added to `seen`. */
  seenRound: number;
}

/** Names used on the hot path, computed once per model (keys, the allow-list's answer). */
interface ModelNames {
  model: KeyState;
  allowed: boolean;
  versions: Map<string, KeyState>;
}

/** Distinct names whose refusal or allow-list verdict is logged; then one line says logging stopped. */
const MAX_LOGGED_NAMES = 100;
/** Names cached on the hot path before the cache is reset (an attacker can invent names). */
const MAX_CACHED_NAMES = 20_000;
const RETRY_MS = 1000;

export class ClusterAdmission implements AdmissionGate {
  readonly touchIntervalMs: number;
  readonly sweepIntervalMs: number;
  /** A record seen within this long is trusted for counting; older ones are confirmed first. */
  private readonly trustMs: number;
  private readonly names = new Map<string, ModelNames>();
  /** Keys seen since the last touch round. */
  private seen = new Set<string>();
  /** Counts touch rounds: a key is added to `seen` once per round, not once per event. */
  private round = 1;
  /** Settlements in flight, by key. */
  private readonly settling = new Map<string, Promise<void>>();
  /** Refused without a record (too many refusal records): until when that answer holds. */
  private readonly unrecorded = new Map<string, number>();
  private readonly listeners = new Listeners();
  private readonly logged = new Set<string>();
  private touchTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private touching: Promise<void> | null = null;
  private closed = false;
  private readonly now: () => number;

  /** Opens the registry on `nc` and starts an admission that owns it (closing one closes both). */
  static async open(nc: NatsConnection, settings: AdmissionSettings, logger: Logger): Promise<ClusterAdmission> {
    const registry = await ModelRegistry.open(nc, { maxModels: settings.maxModels, maxVersionsPerModel: settings.maxVersionsPerModel, idleMs: settings.idleMs });
    const admission = new ClusterAdmission({ registry, idleMs: settings.idleMs, allow: settings.allow.length > 0 ? new AllowList(settings.allow) : null, logger });
    admission.ownsRegistry = true;
    return admission.start();
  }

  private ownsRegistry = false;

  constructor(private readonly options: ClusterAdmissionOptions) {
    this.now = options.now ?? Date.now;
    this.touchIntervalMs = Math.min(60_000, Math.max(100, Math.floor(options.idleMs / 5)));
    this.trustMs = options.idleMs - 2 * this.touchIntervalMs;
    this.sweepIntervalMs = Math.min(300_000, Math.max(250, Math.floor(options.idleMs / 2)));
  }

  /** Starts touching what is seen and sweeping idle records. */
  start(): this {
    this.touchTimer = setInterval(() => void this.touchSeen(), this.touchIntervalMs);
    this.sweepTimer = setInterval(() => void this.sweep(), this.sweepIntervalMs);
    return this;
  }

  private namesOf(model: string): ModelNames {
    let names = this.names.get(model);
    if (names === undefined) {
      if (this.names.size >= MAX_CACHED_NAMES) this.names.clear();
      names = { model: { key: modelKey(model), seenRound: 0 }, allowed: this.options.allow === null || this.options.allow.allows(model), versions: new Map() };
      this.names.set(model, names);
    }
    return names;
  }

  verdict(model: string, version: string | null): AdmissionVerdict {
    const names = this.namesOf(model);
    if (!names.allowed) {
      this.logOnce(`allow:${model}`, () => this.options.logger.warn({ model }, `events of model '${model}' refused: not on models.allow (dead-lettered as model_not_allowed)`));
      return 'not_allowed';
    }
    const now = this.now();
    const modelVerdict = this.recordVerdict(names.model, model, null, now);
    if (modelVerdict !== 'admitted' || version === null) return modelVerdict;
    let state = names.versions.get(version);
    if (state === undefined) {
      if (names.versions.size >= MAX_CACHED_NAMES) names.versions.clear();
      state = { key: versionKey(model, version), seenRound: 0 };
      names.versions.set(version, state);
    }
    return this.recordVerdict(state, model, version, now);
  }

  private recordVerdict(state: KeyState, model: string, version: string | null, now: number): AdmissionVerdict {
    const key = state.key;
    const mirrored = this.options.registry.lookup(key);
    if (mirrored === undefined || now - mirrored.record.seen > this.trustMs) {
      const until = this.unrecorded.get(key);
      if (mirrored === undefined && until !== undefined && until > now) return 'refused';
      this.settle(key, model, version);
      return 'pending';
    }
    if (state.seenRound !== this.round) {
      state.seenRound = this.round;
      this.seen.add(key);
    }
    return mirrored.record.decision === 'admitted' ? 'admitted' : 'refused';
  }

  onResolved(listener: (model: string) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Asks the registry (once per key at a time), then tells the listeners; retries while NATS is away. */
  private settle(key: string, model: string, version: string | null): void {
    if (this.settling.has(key) || this.closed) return;
    const settlement = this.settleOnce(key, model, version)
      .then(
        () => true,
        (error: unknown) => {
          this.options.logger.warn({ model, version, err: (error as Error).message }, 'model admission could not be asked; retrying');
          return false;
        },
      )
      .then(async (done) => {
        if (!done) await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        this.settling.delete(key);
        this.listeners.notify(model);
      });
    this.settling.set(key, settlement);
  }

  private async settleOnce(key: string, model: string, version: string | null): Promise<void> {
    const registry = this.options.registry;
    // a known record not seen lately: confirm it is still the one in force (a touch loses to a release)
    if (registry.lookup(key) !== undefined && (await registry.touch(key))) return;
    const resolution = await registry.resolve(model, version);
    if (!resolution.recorded) this.unrecorded.set(key, this.now() + this.touchIntervalMs);
    else if (!resolution.decidedHere) await registry.touch(key);
    if (resolution.decidedHere && resolution.decision === 'refused') {
      const { maxModels, maxVersionsPerModel } = registry.options;
      const what = version === null ? `model '${model}'` : `version '${version}' of model '${model}'`;
      const cap = version === null ? `limits.maxModels (${maxModels}) models are admitted` : `limits.maxVersionsPerModel (${maxVersionsPerModel}) versions of it are admitted`;
      this.logOnce(`refused:${key}`, () =>
        this.options.logger.warn(
          { model, version, recorded: resolution.recorded },
          `${what} refused cluster-wide: ${cap}; its events are dead-lettered (limit_exceeded) until it has been idle for models.idleMs`,
        ),
      );
    }
  }

  private logOnce(name: string, log: () => void): void {
    if (this.logged.has(name)) return;
    if (this.logged.size === MAX_LOGGED_NAMES) {
      this.options.logger.warn({ names: MAX_LOGGED_NAMES }, 'further refused models are counted (drift_model_events_refused_total) but not logged');
    }
    this.logged.add(name);
    if (this.logged.size <= MAX_LOGGED_NAMES) log();
  }

  /** Touches every record seen since the last round, so the sweep does not release it. */
  private async touchSeen(): Promise<void> {
    if (this.touching !== null || this.closed) return;
    const keys = this.seen;
    this.seen = new Set();
    this.round++;
    this.touching = (async () => {
      for (const key of keys) {
        if (this.closed) return;
        await this.options.registry.touch(key).catch(() => this.seen.add(key));
      }
    })().finally(() => {
      this.touching = null;
    });
    await this.touching;
  }

  private async sweep(): Promise<void> {
    if (this.closed) return;
    try {
      const released = await this.options.registry.sweep();
      if (released.length > 0) this.options.logger.info({ released: released.length, idleMs: this.options.idleMs }, 'released idle models and versions');
    } catch (error) {
      this.options.logger.debug({ err: (error as Error).message }, 'model registry sweep failed; will retry');
    }
  }

  /** Keys whose decision is being asked (for tests and metrics). */
  get pending(): number {
    return this.settling.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.touchTimer) clearInterval(this.touchTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.touching?.catch(() => undefined);
    if (this.ownsRegistry) this.options.registry.close();
  }
}
