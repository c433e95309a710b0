import { HeldStateReader } from '../window/held-state-reader.ts';
import { StateBytePool } from '../window/state-byte-pool.ts';
import type { ModelSummary } from '../contract/metrics.ts';
import type { PaneMessage } from '../contract/pane-wire.ts';
import { parseDuration } from '../contract/duration.ts';
import { defaultWindowOf } from '../contract/limits.ts';
import { ModelWindows } from '../window/windows.ts';
import { BucketScratch } from '../sketch/bucket-store.ts';
import type { LogHistogram } from '../sketch/log-histogram.ts';
import type { WindowAggregate } from '../window/windows.ts';
import type { PaneLimits } from '../window/pane.ts';
import type { PipelineMetrics } from '../contract/pipeline-metrics.ts';
import { ModelSignal } from './model-signal.ts';
import type { ModelListener } from './model-signal.ts';

export interface WindowStoreOptions {
  /** Window names, e.g. ['1m', '5m', '1h']. */
  windows: readonly string[];
  limits: PaneLimits;
  /** Models kept at most; panes of further models are dropped (counted, and logged once per model). */
  maxModels: number;
  /**
   * A model without a pane message for this long (wall clock) gives its place to a new model when
   * the store is full (models.idleMs, the workers' release time). Default: never.
   */
  idleMs?: number;
  /** Where drops are counted (drift_pane_messages_dropped_total) and logged. */
  metrics?: Pick<PipelineMetrics, 'paneMessagesDropped'>;
  logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  now?: () => number;
  /**
   * Final pane states older than twice the longest short window are merged into coarse panes of
   * this length, which windows of at least 30 of them (1h) slide over (src/window/coarse-panes.ts);
   * 0: never. Default 60 s.
   */
  coarsePaneMs?: number;
  /**
   * Coarse panes lying wholly before the longest coarse window (the 1h window's rolling reference,
   * history for captures) are merged into history panes of this length; 0: never. Default 5 min.
   */
  historyPaneMs?: number;
  /**
   * A model's numeric feature's buckets to hold its windows on (its reference's: see
   * ModelWindowsOptions.bucketsHint), asked when the feature's first sketch arrives. Default: none.
   */
  referenceBuckets?: (model: string, feature: string) => LogHistogram | undefined;
}

/** Distinct dropped models logged; after that one line says further drops are only counted. */
const MAX_LOGGED_DROPS = 100;

/**
 * Versions of a model remembered after their panes left the windows' retention, the latest first
 * seen kept: a query for such a version answers empty metrics rather than "unknown version",
 * while memory stays bounded however many versions a model goes through.
 */
export const REMEMBERED_VERSIONS = 64;

/**
 * Every model's sliding windows, folded from the pane changelog (the changelog reader calls
 * `applyPaneMessage`, once the replay has caught up `markCaughtUp`, and `markLive` as its consumer
 * loses and regains its server).
 */
export class WindowStore {
  private readonly models = new Map<string, ModelWindows>();
  /** rebinnedSketches of the models evicted so far. */
  private rebinnedByEvicted = 0;
  /** Decoded pane states' bucket arrays, shared by every model's windows (ModelWindowsOptions.scratch). */
  private readonly scratch = new BucketScratch();
  /** Reads the models' packed states (ModelWindowsOptions.reader), as the scratch shared by them. */
  private readonly reader = new HeldStateReader();
  /** Arrays of the partition input states held, used again once replaced (ModelWindowsOptions.stateBytes), shared as the scratch. */
  private readonly stateBytes = new StateBytePool();
  private readonly windowMs: ReadonlyMap<string, number>;
  private readonly changed = new ModelSignal();
  private caughtUp = false;
  /** The changelog consumer is receiving; only a consumer that lost its server says otherwise. */
  private live = true;
  private dropped = 0;
  /** Wall-clock time of each model's latest pane message, to find idle ones. */
  private readonly lastMessageAt = new Map<string, number>();
  private readonly loggedDrops = new Set<string>();
  private readonly evicted = new ModelSignal();
  private readonly added = new ModelSignal();
  /** Per model, versions seen in its pane messages (at most REMEMBERED_VERSIONS, oldest first seen dropped). */
  private readonly seenVersions = new Map<string, Set<string>>();

  constructor(private readonly options: WindowStoreOptions) {
    this.windowMs = new Map(options.windows.map((w) => [w, parseDuration(w) as number]));
  }

  /** Window names, in configuration order. */
  windowNames(): string[] {
    return [...this.windowMs.keys()];
  }

  /** Length of a window in ms, undefined for a name that is not configured. */
  lengthOf(window: string): number | undefined {
    return this.windowMs.get(window);
  }

  /** The window the model list summarizes (and the default of the REST routes): 5m when configured. */
  summaryWindow(): string {
    return defaultWindowOf(this.windowNames());
  }

  /** Called with the model's name after each pane message folded into its windows. */
  onModelChanged(listener: ModelListener): void {
    this.changed.subscribe(listener);
  }

  /**
   * The model's reference changed: its windows move onto the new reference's buckets where they
   * differ (ModelWindows.followBucketsHint; a reference captured from the windows has theirs).
   * Returns the features moved.
   */
  followReferenceBuckets(model: string): number {
    const windows = this.models.get(model);
    if (windows === undefined) return 0;
    const moved = windows.followBucketsHint();
    if (moved > 0) this.changed.notify(model);
    return moved;
  }

  applyPaneMessage(message: PaneMessage): void {
    let windows = this.models.get(message.model);
    const now = (this.options.now ?? Date.now)();
    if (windows === undefined) {
      if (this.models.size >= this.options.maxModels && this.evictIdle(now) === 0) {
        this.drop(message.model);
        return;
      }
      const { referenceBuckets } = this.options;
      const model = message.model;
      windows = new ModelWindows(model, this.windowMs, this.options.limits, {
        coarsePaneMs: this.options.coarsePaneMs,
        historyPaneMs: this.options.historyPaneMs,
        scratch: this.scratch,
        reader: this.reader,
        stateBytes: this.stateBytes,
        bucketsHint: referenceBuckets === undefined ? undefined : (feature) => referenceBuckets(model, feature),
      });
      windows.applyMessage(message); // a malformed first message throws before the model is listed
      this.models.set(message.model, windows);
      this.added.notify(message.model);
    } else {
      windows.applyMessage(message);
    }
    this.rememberVersion(message.model, message.version);
    this.lastMessageAt.set(message.model, now);
    this.changed.notify(message.model);
  }

  private rememberVersion(model: string, version: string): void {
    let seen = this.seenVersions.get(model);
    if (seen === undefined) this.seenVersions.set(model, (seen = new Set()));
    if (seen.has(version)) return;
    seen.add(version);
    if (seen.size > REMEMBERED_VERSIONS) seen.delete(seen.values().next().value as string);
  }

  /**
   * The versions of a model seen (those its windows hold, and the latest REMEMBERED_VERSIONS seen
   * before), sorted; undefined for an unknown model.
   */
  knownVersions(model: string): string[] | undefined {
    const windows = this.models.get(model);
    if (windows === undefined) return undefined;
    return [...new Set([...windows.versions, ...(this.seenVersions.get(model) ?? [])])].sort();
  }

  /** Removes models idle for `idleMs` (their windows, their place); returns how many. */
  private evictIdle(now: number): number {
    const idleMs = this.options.idleMs;
    if (idleMs === undefined) return 0;
    const idle = [...this.lastMessageAt].filter(([, at]) => now - at > idleMs).map(([model]) => model);
    for (const model of idle) {
      // listeners are told first, so they can still read the model's windows (its last event time)
      this.evicted.notify(model);
      this.rebinnedByEvicted += this.models.get(model)?.rebinnedSketches ?? 0;
      this.models.delete(model);
      this.lastMessageAt.delete(model);
      this.seenVersions.delete(model);
    }
    if (idle.length > 0) this.options.logger?.info({ models: idle.length, idleMs }, 'idle models removed from the gateway to make room for new ones');
    return idle.length;
  }

  private drop(model: string): void {
    this.dropped++;
    this.options.metrics?.paneMessagesDropped.inc({ reason: 'model_limit' });
    // past the logged ones only the count grows, so a flood of dropped models takes no memory per model
    if (this.loggedDrops.size > MAX_LOGGED_DROPS || this.loggedDrops.has(model) || this.options.logger === undefined) return;
    this.loggedDrops.add(model);
    if (this.loggedDrops.size <= MAX_LOGGED_DROPS) {
      this.options.logger.warn({ model, maxModels: this.options.maxModels }, `pane states of model '${model}' dropped: the gateway holds limits.maxModels (${this.options.maxModels}) models, none idle for models.idleMs`);
    } else if (this.loggedDrops.size === MAX_LOGGED_DROPS + 1) {
      this.options.logger.warn({ models: MAX_LOGGED_DROPS }, 'further dropped models are counted (drift_pane_messages_dropped_total) but not logged');
    }
  }

  /**
   * Called with the name of a model removed for idleness, just before its windows go (they can
   * still be read): whatever else is kept for the model can go too.
   */
  onModelEvicted(listener: ModelListener): void {
    this.evicted.subscribe(listener);
  }

  /** Called with the name of a model the store starts holding (new, or back after its eviction), after its first pane message. */
  onModelAdded(listener: ModelListener): void {
    this.added.subscribe(listener);
  }

  /** How long a model may go without a pane message before it can give its place (models.idleMs); undefined: never. */
  get idleMs(): number | undefined {
    return this.options.idleMs;
  }

  /** The changelog replay has caught up: the windows hold everything published so far. */
  markCaughtUp(): void {
    this.caughtUp = true;
  }

  isCaughtUp(): boolean {
    return this.caughtUp;
  }

  /** The changelog consumer receives (true), or lost its server and is being recreated (false). */
  markLive(live: boolean): void {
    this.live = live;
  }

  /** Caught up and live: what the windows hold is current. */
  isReady(): boolean {
    return this.caughtUp && this.live;
  }

  /** Why the windows are not current, for /readyz. */
  notReadyReason(): string {
    if (!this.caughtUp) return 'replaying the pane changelog (DRIFT_PANES)';
    return 'the pane changelog consumer is not live (NATS unreachable or the consumer is being recreated); figures may be stale';
  }

  /**
   * Bytes the store's bucket scratch holds for good and its state byte pool for reuse (at most
   * StateBytePool.maxBytes): a fixed cost of the process, not of its models (BucketScratch.capacityBytes).
   */
  get scratchBytes(): number {
    return this.scratch.capacityBytes + this.stateBytes.heldBytes;
  }

  /** Partition input states written into arrays used again, and into new ones (StateBytePool). */
  get stateArrays(): { reused: number; made: number } {
    return { reused: this.stateBytes.reused, made: this.stateBytes.made };
  }

  /**
   * Pane sketches moved onto their windows' buckets so far (see ModelWindows.rebinnedSketches),
   * evicted models' included: none while every partition centers its panes on the model's reference.
   */
  get rebinnedSketches(): number {
    let total = this.rebinnedByEvicted;
    for (const windows of this.models.values()) total += windows.rebinnedSketches;
    return total;
  }

  /** Pane messages dropped because they were for a model beyond `maxModels`. */
  get droppedMessages(): number {
    return this.dropped;
  }

  windowsOf(model: string): ModelWindows | undefined {
    return this.models.get(model);
  }

  listModels(): ModelSummary[] {
    const summaryWindow = this.summaryWindow();
    return [...this.models.values()].map((w) => ({
      model: w.model,
      versions: [...w.versions].sort(),
      lastEventAt: Number.isFinite(w.end) ? w.end : null,
      count5m: w.get(summaryWindow)?.input.count ?? 0,
    }));
  }

  /** Event-time bounds of one of a model's windows; undefined for an unknown model. */
  bounds(model: string, window: string): { from: number; to: number } | undefined {
    return this.models.get(model)?.bounds(window);
  }

  /** The range aggregateRange(model, from, to) really holds (coarse panes cut it: ModelWindows.coveredRange). */
  coveredRange(model: string, from: number, to: number, version?: string): { from: number; to: number } | undefined {
    return this.models.get(model)?.coveredRange(from, to, version);
  }

  /** The merged panes of a model between two event times, for capturing a reference. */
  aggregateRange(model: string, from: number, to: number, version?: string): WindowAggregate | undefined {
    return this.models.get(model)?.sumRange(from, to, version);
  }
}
