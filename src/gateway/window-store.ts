import type { ModelSummary } from '../contract/metrics.ts';
import type { PaneMessage } from '../contract/pane-wire.ts';
import { parseDuration } from '../contract/duration.ts';
import { defaultWindowOf } from '../contract/limits.ts';
import { ModelWindows } from '../window/windows.ts';
import type { WindowAggregate } from '../window/windows.ts';
import type { PaneLimits } from '../window/pane.ts';
import { ModelSignal } from './model-signal.ts';
import type { ModelListener } from './model-signal.ts';

export interface WindowStoreOptions {
  /** Window names, e.g. ['1m', '5m', '1h']. */
  windows: readonly string[];
  limits: PaneLimits;
  /** Models kept at most; panes of further models are dropped (and counted). */
  maxModels: number;
}

/**
 * Every model's sliding windows, folded from the pane changelog (the changelog reader calls
 * `applyPaneMessage`, once the replay has caught up `markCaughtUp`, and `markLive` as its consumer
 * loses and regains its server).
 */
export class WindowStore {
  private readonly models = new Map<string, ModelWindows>();
  private readonly windowMs: ReadonlyMap<string, number>;
  private readonly changed = new ModelSignal();
  private caughtUp = false;
  /** The changelog consumer is receiving; only a consumer that lost its server says otherwise. */
  private live = true;
  private dropped = 0;

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

  applyPaneMessage(message: PaneMessage): void {
    let windows = this.models.get(message.model);
    if (windows === undefined) {
      if (this.models.size >= this.options.maxModels) {
        this.dropped++;
        return;
      }
      windows = new ModelWindows(message.model, this.windowMs, this.options.limits);
      windows.applyMessage(message); // a malformed first message throws before the model is listed
      this.models.set(message.model, windows);
    } else {
      windows.applyMessage(message);
    }
    this.changed.notify(message.model);
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

  /** The merged panes of a model between two event times, for capturing a reference. */
  aggregateRange(model: string, from: number, to: number, version?: string): WindowAggregate | undefined {
    return this.models.get(model)?.sumRange(from, to, version);
  }
}
