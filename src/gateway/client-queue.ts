/**
 * One live-feed client's state: its subscriptions and its bounded outgoing queue.
 *
 * What waits for a slow client is bounded by construction: metrics/drift updates and snapshots are
 * one mark per model (a newer update replaces an older one; the frame is built from current data
 * when it is finally sent), the cluster view is one flag, and alert frames wait in a queue of at
 * most `maxQueuedAlerts`, never dropped while within it. The feed closes a client with 1013 when
 * the queue would overflow or the socket's send buffer stays full too long.
 */
import type { WebSocket } from 'ws';
import { TokenBucket, WindowCounter } from './token-bucket.ts';
import { WILDCARD } from './live-protocol.ts';

export interface Subscription {
  metrics: boolean;
  drift: boolean;
  alerts: boolean;
  window: string;
  version: string | undefined;
}

export const hasUpdates = (sub: Subscription): boolean => sub.metrics || sub.drift;

/** A snapshot waits to be sent, or the latest metrics/drift of the model. */
export type PendingKind = 'snapshot' | 'update';

/** An alert frame with its stream sequence (undefined when the feed does not follow DRIFT_ALERTS). */
export interface AlertFrame {
  seq: number | undefined;
  model: string;
  frame: string;
}

export interface ClientLimits {
  messageRatePerSecond: number;
  messageBurst: number;
  badMessageWindowMs: number;
}

export class LiveClient {
  /** Keyed by model name or '*'. An explicit model entry takes precedence over '*'. */
  readonly subs = new Map<string, Subscription>();
  cluster = false;
  /** Coalesced frames waiting for the send buffer to drain, by model: at most one per model. */
  readonly pending = new Map<string, PendingKind>();
  clusterPending = false;
  /** Alert frames (and the `resumed` marker) waiting, in order. */
  readonly alertQueue: string[] = [];
  readonly lastMetricsAt = new Map<string, number>();
  /** The drift stamp last sent per model: a drift frame goes out only when the drift changed. */
  readonly lastDriftStamp = new Map<string, number>();
  lastClusterStamp = -1;
  /** While a resume reads missed alerts, live alert frames for this client wait here. */
  replay: { held: AlertFrame[] } | undefined;
  /** Answered the last protocol-level ping. */
  wsAlive = true;
  /** A JSON ping was sent and its pong has not come yet. */
  awaitingPong = false;
  /** Set by the client's first JSON pong: from then on it must answer every JSON ping. */
  answersPings = false;
  /** When the send buffer was first seen above the limit; 0 = not slow. */
  slowSince = 0;
  readonly bucket: TokenBucket;
  readonly badMessages: WindowCounter;
  readonly rateDrops: WindowCounter;
  /** Messages are being dropped by the rate limit (the error frame went out once). */
  rateLimited = false;
  closing = false;
  closeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    limits: ClientLimits,
    now: number,
  ) {
    this.bucket = new TokenBucket(limits.messageRatePerSecond, limits.messageBurst, now);
    this.badMessages = new WindowCounter(limits.badMessageWindowMs);
    this.rateDrops = new WindowCounter(limits.badMessageWindowMs);
  }

  subscriptionFor(model: string): Subscription | undefined {
    return this.subs.get(model) ?? this.subs.get(WILDCARD);
  }

  get backlogged(): boolean {
    return this.pending.size > 0 || this.alertQueue.length > 0 || this.clusterPending;
  }

  /** Forget subscription-derived state of models no longer subscribed. */
  prune(): void {
    for (const [model, kind] of this.pending) {
      const sub = this.subscriptionFor(model);
      if (sub === undefined || (kind === 'update' && !hasUpdates(sub))) this.pending.delete(model);
    }
    for (const map of [this.lastMetricsAt, this.lastDriftStamp]) {
      for (const model of map.keys()) if (this.subscriptionFor(model) === undefined) map.delete(model);
    }
    if (!this.cluster) this.clusterPending = false;
  }

  release(): void {
    this.subs.clear();
    this.pending.clear();
    this.alertQueue.length = 0;
    this.lastMetricsAt.clear();
    this.lastDriftStamp.clear();
    this.clusterPending = false;
    this.replay = undefined;
  }
}
