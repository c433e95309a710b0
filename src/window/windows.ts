import { PaneInput, PaneOutcome, addInput, addOutcome, inputFromWire, outcomeFromWire } from './pane.ts';
import type { PaneLimits, PaneInputWire, PaneOutcomeWire } from './pane.ts';
import type { PaneMessage } from '../partition/processor.ts';

/**
 * Sliding windows of one model, kept incrementally from the pane changelog: a window is the sum of
 * the latest state of every pane inside it. When a pane's state is replaced, the old state is
 * subtracted and the new one added; when event time moves on, panes leaving a window are
 * subtracted. Nothing is ever recomputed from events, and a replayed (identical) pane state
 * replaces itself, so re-deliveries cannot double count.
 */

/** Aggregates of all versions merged carry this version key. */
export const ALL_VERSIONS = '\u0000all';

export class WindowAggregate {
  readonly input: PaneInput;
  readonly outcome: PaneOutcome;
  constructor(limits: PaneLimits) {
    this.input = new PaneInput(limits);
    this.outcome = new PaneOutcome(limits);
  }
}

/**
 * A pane as the changelog delivered it: kept in its compact wire form (sketches as bytes, about a
 * sixth of the decoded size) and decoded only when it enters or leaves a window.
 */
interface StoredPane {
  version: string;
  paneStart: number;
  part: 'in' | 'out';
  state: PaneInputWire | PaneOutcomeWire;
}

interface DecodedPane {
  input: PaneInput | null;
  outcome: PaneOutcome | null;
}

export class ModelWindows {
  /** Latest state per `${partition}|${version}|${paneStart}|${part}`. */
  private readonly panes = new Map<string, StoredPane>();
  /** window name -> version key -> aggregate */
  private readonly aggregates = new Map<string, Map<string, WindowAggregate>>();
  readonly versions = new Set<string>();
  /** End of the newest pane seen (exclusive), epoch ms of event time. */
  end = -Infinity;
  paneMs = 0;
  firstPaneStart = Infinity;
  /** Panes are kept for two lengths of the longest window: the window and its rolling reference. */
  private readonly retentionMs: number;

  constructor(
    readonly model: string,
    private readonly windowMs: ReadonlyMap<string, number>,
    private readonly limits: PaneLimits,
  ) {
    for (const name of windowMs.keys()) this.aggregates.set(name, new Map());
    this.retentionMs = 2 * Math.max(...windowMs.values());
  }

  private aggregate(window: string, version: string): WindowAggregate {
    const byVersion = this.aggregates.get(window) as Map<string, WindowAggregate>;
    let aggregate = byVersion.get(version);
    if (aggregate === undefined) {
      aggregate = new WindowAggregate(this.limits);
      byVersion.set(version, aggregate);
    }
    return aggregate;
  }

  private decode(pane: StoredPane): DecodedPane {
    return pane.part === 'in'
      ? { input: inputFromWire(pane.state as PaneInputWire, this.limits), outcome: null }
      : { input: null, outcome: outcomeFromWire(pane.state as PaneOutcomeWire, this.limits) };
  }

  /** Adds (or subtracts) a pane to every window that holds it. */
  private apply(pane: StoredPane, sign: 1 | -1): void {
    let decoded: DecodedPane | null = null;
    for (const [name, length] of this.windowMs) {
      if (pane.paneStart < this.end - length || pane.paneStart >= this.end) continue;
      decoded ??= this.decode(pane);
      this.applyDecoded(name, pane.version, decoded, sign);
    }
  }

  private applyDecoded(window: string, paneVersion: string, pane: DecodedPane, sign: 1 | -1): void {
    for (const version of [paneVersion, ALL_VERSIONS]) {
      const aggregate = this.aggregate(window, version);
      if (pane.input !== null) addInput(aggregate.input, pane.input, sign);
      if (pane.outcome !== null) addOutcome(aggregate.outcome, pane.outcome, sign);
    }
  }

  /** Folds one pane message from the changelog in. */
  applyMessage(message: PaneMessage): void {
    this.paneMs = message.paneMs;
    this.versions.add(message.version);
    const key = `${message.partition}|${message.version}|${message.paneStart}|${message.part}`;
    const next: StoredPane = { version: message.version, paneStart: message.paneStart, part: message.part, state: message.state };
    const paneEnd = message.paneStart + message.paneMs;
    if (paneEnd > this.end) this.advanceTo(paneEnd);
    if (message.paneStart < this.end - this.retentionMs) return; // older than every window and its rolling reference
    if (message.paneStart < this.firstPaneStart && message.part === 'in') this.firstPaneStart = message.paneStart;
    const previous = this.panes.get(key);
    if (previous !== undefined) this.apply(previous, -1);
    this.panes.set(key, next);
    this.apply(next, 1);
  }

  /** Moves the windows' end forward: panes that fall out of a window are subtracted from it. */
  private advanceTo(end: number): void {
    const oldEnd = this.end;
    this.end = end;
    if (!Number.isFinite(oldEnd)) return;
    for (const [key, pane] of this.panes) {
      let decoded: DecodedPane | null = null;
      for (const [name, length] of this.windowMs) {
        const wasIn = pane.paneStart >= oldEnd - length && pane.paneStart < oldEnd;
        const isIn = pane.paneStart >= end - length && pane.paneStart < end;
        if (wasIn === isIn) continue;
        decoded ??= this.decode(pane);
        this.applyDecoded(name, pane.version, decoded, isIn ? 1 : -1);
      }
      if (pane.paneStart < end - this.retentionMs) this.panes.delete(key);
    }
  }

  /** The aggregate of a window; `version` undefined = all versions. */
  get(window: string, version?: string): WindowAggregate | undefined {
    return this.aggregates.get(window)?.get(version ?? ALL_VERSIONS);
  }

  bounds(window: string): { from: number; to: number } {
    const length = this.windowMs.get(window) ?? 0;
    return { from: this.end - length, to: this.end };
  }

  /** Sum of the panes in [from, to) for one version key: for capturing a reference from history. */
  sumRange(from: number, to: number, version?: string): WindowAggregate {
    const aggregate = new WindowAggregate(this.limits);
    for (const pane of this.panes.values()) {
      if (pane.paneStart < from || pane.paneStart >= to) continue;
      if (version !== undefined && pane.version !== version) continue;
      const decoded = this.decode(pane);
      if (decoded.input !== null) addInput(aggregate.input, decoded.input, 1);
      if (decoded.outcome !== null) addOutcome(aggregate.outcome, decoded.outcome, 1);
    }
    return aggregate;
  }
}
