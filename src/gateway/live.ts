/**
 * The WebSocket live feed, `GET /v1/live` (upgrade). The protocol is described, with an example
 * of every message, in docs/websocket.md; client messages are validated in live-protocol.ts and
 * each client's bounded queue lives in client-queue.ts.
 *
 * Updates: a model's metrics/drift are broadcast on the leading edge of a change and then at most
 * once per `metricsIntervalMs`; changes inside the interval are coalesced and the latest state is
 * sent when it ends. Frames are built from the source when they are sent, so the latest data wins
 * and one serialized frame is shared by every client on the same (model, window, version). A drift
 * frame goes to a client only when the drift differs from the last one it got.
 *
 * Alerts: with an `alertStream`, alert frames come from DRIFT_ALERTS as it is stored (whichever
 * replica published them) and carry its sequence; a recent window is kept in memory so that a
 * client reconnecting with its last sequence is answered from memory, or from the stream when it
 * was away longer. Live frames for a client are held while its missed alerts are read, then sent
 * after them: every sequence once, in order. Without a stream the source's alert events are sent,
 * without sequence.
 *
 * Backpressure: before each send the client's `bufferedAmount` is checked. Over `maxBufferedBytes`
 * updates become a per-model mark and alerts go to the client's bounded queue. A client that stays
 * over the limit for `slowClientTimeoutMs`, or whose alert queue would overflow, is closed with
 * 1013 and terminated shortly after; the others are not affected.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import type { FastifyBaseLogger } from 'fastify';
import type { AlertEvent, ModelMetrics } from '../contract/metrics.ts';
import type { MetricsSource } from '../contract/metrics-source.ts';
import type { GatewayMetrics } from '../contract/pipeline-metrics.ts';
import type { AlertStream, SequencedAlert } from '../alerts/alert-stream.ts';
import type { TokenAuthenticator } from './auth.ts';
import { BEARER_CHALLENGE, queryTokenOf } from './auth.ts';
import { defaultWindowOf } from '../contract/limits.ts';
import { errorBody, safePath } from './errors.ts';
import { MODEL_TOPICS, WILDCARD, parseClientMessage } from './live-protocol.ts';
import type { ErrorCode, HeartbeatMessage, ParseContext, ProtocolError, SubscribeMessage, Topic, UnsubscribeMessage } from './live-protocol.ts';
import { LiveClient, hasUpdates } from './client-queue.ts';
import type { AlertFrame, PendingKind, Subscription } from './client-queue.ts';

export interface LiveFeedOptions {
  /** Upgrade path. Default '/v1/live'. */
  path?: string;
  /** Over this many bytes buffered for a client, updates are coalesced instead of sent. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Subscriptions (model names, '*' counts as one) per client. Default 100. */
  maxSubscriptions?: number;
  /** Largest accepted client message; larger ones get an error frame. Default 16 KiB.
   *  Messages over 4x this size (at least 64 KiB) are refused by the protocol layer (close 1009). */
  maxMessageBytes?: number;
  /** Heartbeats: a protocol ping and a JSON ping every interval; a client that answered either
   *  previous one late is closed. Default 30 s. */
  pingIntervalMs?: number;
  /** Whether a client that has answered a JSON ping must go on answering them (a frozen page is then
   *  closed with 4000); a client that never answers one is judged by protocol pongs only. Default true. */
  requireJsonPong?: boolean;
  /** Minimum interval between two update frames of one model to one client. Default 1000 ms. */
  metricsIntervalMs?: number;
  /** A client above maxBufferedBytes for longer than this is dropped (1013). Default 10 s. */
  slowClientTimeoutMs?: number;
  /** Alert frames queued for a client; one more drops the client (1013). Default 256. */
  maxQueuedAlerts?: number;
  /** More bad messages than this within badMessageWindowMs closes the connection (1008). Default 50. */
  badMessageLimit?: number;
  badMessageWindowMs?: number;
  /** Client messages per second (token bucket refill). Default 20. */
  messageRatePerSecond?: number;
  /** Token bucket size: messages a client may send in a burst. Default 100. */
  messageBurst?: number;
  /** Messages dropped by the rate limit within badMessageWindowMs beyond which the client is closed (1008). Default 1000. */
  rateLimitDropLimit?: number;
  /** Concurrent clients; further upgrades get 503. Default 10000. */
  maxClients?: number;
  /** Window used when a subscribe names none (default: defaultWindowOf the source's windows). */
  defaultWindow?: string;
  /** DRIFT_ALERTS as a sequenced feed: alert frames carry its sequence and clients can resume. */
  alertStream?: AlertStream;
  /** Alert frames kept in memory to answer resumes without reading the stream. Default 1024. */
  replayBufferSize?: number;
  /** The `cluster` topic's payload; without it a cluster subscription is answered with an error frame. */
  clusterSnapshot?: () => unknown;
  /** How often the cluster view is polled for changes (sent only when it changed). Default 2000 ms. */
  clusterIntervalMs?: number;
  /**
   * How long a client closed by the gateway (slow, flood, heartbeat) has to read what is still
   * buffered for it and the close frame before its socket is destroyed. Nothing more is queued
   * meanwhile, so memory stays bounded. Default 1000 ms.
   */
  closeGraceMs?: number;
}

type ResolvedOptions = Required<Omit<LiveFeedOptions, 'defaultWindow' | 'alertStream' | 'clusterSnapshot'>> & { defaultWindow: string | undefined };

export type DropReason = 'slow' | 'alert_overflow' | 'flood' | 'rate_limit' | 'heartbeat';

const CLOSE_CODE: Record<DropReason, number> = { slow: 1013, alert_overflow: 1013, flood: 1008, rate_limit: 1008, heartbeat: 4000 };
const CLOSE_REASON: Record<DropReason, string> = {
  slow: 'client too slow: send buffer stayed full',
  alert_overflow: 'client too slow: alert queue full',
  flood: 'too many invalid messages',
  rate_limit: 'message rate limit exceeded',
  heartbeat: 'no pong: answer {"type":"ping"} with {"type":"pong"}',
};

export interface LiveClientStats {
  subscriptions: number;
  pendingFrames: number;
  queuedAlerts: number;
  bufferedAmount: number;
}

function rawSize(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString('utf8');
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`live feed option ${name} must be a positive integer, got ${value}`);
  return value;
}

/** The metrics frame's body: ModelMetrics without `drift`, which has a topic (and frames) of its own. */
function withoutDrift(metrics: ModelMetrics): Omit<ModelMetrics, 'drift'> {
  const body: Partial<ModelMetrics> = { ...metrics };
  delete body.drift;
  return body as Omit<ModelMetrics, 'drift'>;
}

/** Frames built for one model in one broadcast, by (window, version). */
interface UpdateFrames {
  metrics: string | null;
  drift: { frame: string; stamp: number } | null;
}

export class LiveFeed {
  private readonly opts: ResolvedOptions;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<LiveClient>();
  /** Clients with pending frames or queued alerts, visited by the drain tick. */
  private readonly backlogged = new Set<LiveClient>();
  /** Feed-level throttle per model: a timer runs while the model is inside its interval. */
  private readonly throttle = new Map<string, { timer: NodeJS.Timeout; dirty: boolean }>();
  /** The last drift sent per (model, window, version), and a stamp that changes with it. */
  private readonly driftState = new Map<string, { json: string; stamp: number }>();
  private driftStamps = 0;
  private cluster: { json: string; stamp: number } | undefined;
  /** Recent alert frames from the stream, oldest first; every sequence after `ringFloor` is here. */
  private readonly ring: AlertFrame[] = [];
  private ringFloor = 0;
  /** The last alert sequence the feed has sent (undefined until it follows the stream). */
  private headSeq: number | undefined;
  private followReady: Promise<void> | undefined;
  private stopFollowing: (() => Promise<void>) | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private clusterTimer: NodeJS.Timeout | undefined;
  private server: Server | undefined;
  private stopped = false;
  private readonly sent;
  private readonly parseContext: ParseContext;

  constructor(
    private readonly source: MetricsSource,
    private readonly metrics: GatewayMetrics,
    private readonly auth: TokenAuthenticator | undefined,
    private readonly log: FastifyBaseLogger,
    private readonly options: LiveFeedOptions = {},
  ) {
    const maxMessageBytes = positiveInt('maxMessageBytes', options.maxMessageBytes ?? 16 * 1024);
    this.opts = {
      path: options.path ?? '/v1/live',
      maxBufferedBytes: positiveInt('maxBufferedBytes', options.maxBufferedBytes ?? 1024 * 1024),
      maxSubscriptions: positiveInt('maxSubscriptions', options.maxSubscriptions ?? 100),
      maxMessageBytes,
      pingIntervalMs: positiveInt('pingIntervalMs', options.pingIntervalMs ?? 30_000),
      requireJsonPong: options.requireJsonPong ?? true,
      metricsIntervalMs: positiveInt('metricsIntervalMs', options.metricsIntervalMs ?? 1000),
      slowClientTimeoutMs: positiveInt('slowClientTimeoutMs', options.slowClientTimeoutMs ?? 10_000),
      maxQueuedAlerts: positiveInt('maxQueuedAlerts', options.maxQueuedAlerts ?? 256),
      badMessageLimit: positiveInt('badMessageLimit', options.badMessageLimit ?? 50),
      badMessageWindowMs: positiveInt('badMessageWindowMs', options.badMessageWindowMs ?? 10_000),
      messageRatePerSecond: positiveInt('messageRatePerSecond', options.messageRatePerSecond ?? 20),
      messageBurst: positiveInt('messageBurst', options.messageBurst ?? 100),
      rateLimitDropLimit: positiveInt('rateLimitDropLimit', options.rateLimitDropLimit ?? 1000),
      maxClients: positiveInt('maxClients', options.maxClients ?? 10_000),
      replayBufferSize: positiveInt('replayBufferSize', options.replayBufferSize ?? 1024),
      clusterIntervalMs: positiveInt('clusterIntervalMs', options.clusterIntervalMs ?? 2000),
      closeGraceMs: positiveInt('closeGraceMs', options.closeGraceMs ?? 1000),
      defaultWindow: options.defaultWindow,
    };
    this.wss = new WebSocketServer({
      noServer: true,
      // Between maxMessageBytes and this, a message gets an error frame; above it ws closes with 1009
      // without buffering it, which bounds the memory a single message can take.
      maxPayload: Math.max(4 * maxMessageBytes, 64 * 1024),
      perMessageDeflate: false,
    });
    const windows = source.windows();
    this.parseContext = { windows, defaultWindow: this.opts.defaultWindow ?? defaultWindowOf(windows), maxSubscriptions: this.opts.maxSubscriptions };
    const counter = (type: string): { inc(): void } => metrics.wsFramesSent.labels({ type });
    this.sent = {
      snapshot: counter('snapshot'),
      metrics: counter('metrics'),
      drift: counter('drift'),
      alert: counter('alert'),
      cluster: counter('cluster'),
      resumed: counter('resumed'),
      error: counter('error'),
      subscribed: counter('subscribed'),
      unsubscribed: counter('unsubscribed'),
      ping: counter('ping'),
      pong: counter('pong'),
    };
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', (err) => this.log.debug({ err }, 'live feed: socket error during upgrade'));
    const url = req.url ?? '/';
    if (safePath(url) !== this.opts.path) {
      this.metrics.wsConnections.inc({ result: 'not_found' });
      rejectUpgrade(socket, 404, `no WebSocket endpoint at ${safePath(url)} (use ${this.opts.path})`);
      return;
    }
    if (this.auth !== undefined) {
      const result = this.auth.check(req.headers.authorization, queryTokenOf(url));
      if (!result.ok) {
        this.metrics.wsConnections.inc({ result: 'unauthorized' });
        rejectUpgrade(socket, 401, result.message);
        return;
      }
    }
    if (this.clients.size >= this.opts.maxClients) {
      this.metrics.wsConnections.inc({ result: 'too_many_clients' });
      rejectUpgrade(socket, 503, `too many live clients (max ${this.opts.maxClients})`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  };

  private readonly onSourceMetrics = (model: string): void => {
    const state = this.throttle.get(model);
    if (state !== undefined) {
      if (state.dirty) this.metrics.wsFramesCoalesced.inc();
      state.dirty = true;
      return;
    }
    this.throttle.set(model, { timer: this.throttleTimer(model), dirty: false });
    this.guard('broadcasting metrics', () => this.broadcastUpdates(model));
  };

  /** A model the source gave up: its throttle, drift stamps and every client's bookkeeping of it go (a subscription by name stays). */
  private readonly onSourceReleased = (model: string): void => {
    const state = this.throttle.get(model);
    if (state !== undefined) clearTimeout(state.timer);
    this.throttle.delete(model);
    const prefix = `${model}\u0000`;
    for (const key of this.driftState.keys()) if (key.startsWith(prefix)) this.driftState.delete(key);
    for (const client of this.clients) {
      client.lastMetricsAt.delete(model);
      client.lastDriftStamp.delete(model);
      client.pending.delete(model);
    }
  };

  /** The source's own transitions: used only when the feed does not follow DRIFT_ALERTS. */
  private readonly onSourceAlert = (alert: AlertEvent): void => {
    this.guard('broadcasting an alert', () => this.broadcastAlert({ seq: undefined, model: alert.model, frame: JSON.stringify({ type: 'alert', model: alert.model, alert }) }));
  };

  private readonly onStreamAlert = ({ seq, alert }: SequencedAlert): void => {
    if (this.headSeq !== undefined && seq <= this.headSeq) return;
    this.headSeq = seq;
    const entry: AlertFrame = { seq, model: alert.model, frame: alertFrame(seq, alert) };
    this.ring.push(entry);
    if (this.ring.length > this.opts.replayBufferSize) this.ringFloor = (this.ring.shift() as AlertFrame).seq as number;
    this.guard('broadcasting an alert', () => this.broadcastAlert(entry));
  };

  /**
   * Run work triggered by the source, a timer or a socket event: an exception there (a failing
   * getMetrics, say) must neither propagate into the source's emit nor crash the process.
   */
  private guard(what: string, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.log.error({ err }, `live feed: failed ${what}`);
    }
  }

  /** Attach to the HTTP server and the source (and start following the alerts stream, when given). */
  start(server: Server): void {
    this.server = server;
    server.on('upgrade', this.onUpgrade);
    this.source.on('metrics', this.onSourceMetrics);
    this.source.on('released', this.onSourceReleased);
    const stream = this.options.alertStream;
    if (stream === undefined) this.source.on('alert', this.onSourceAlert);
    else {
      this.followReady = this.follow(stream);
    }
    this.heartbeatTimer = setInterval(() => this.guard('sending heartbeats', () => this.heartbeat()), this.opts.pingIntervalMs);
    this.heartbeatTimer.unref();
    const drainEvery = Math.max(10, Math.min(250, Math.floor(this.opts.metricsIntervalMs / 4), Math.floor(this.opts.slowClientTimeoutMs / 4)));
    this.drainTimer = setInterval(() => this.guard('draining slow clients', () => this.drainBacklog()), drainEvery);
    this.drainTimer.unref();
    if (this.options.clusterSnapshot !== undefined) {
      this.clusterTimer = setInterval(() => this.guard('broadcasting the cluster view', () => this.broadcastCluster()), this.opts.clusterIntervalMs);
      this.clusterTimer.unref();
    }
  }

  /**
   * Starts following the stream from its current end; retried every 2 s while NATS cannot answer
   * (alert frames and resumes wait for it), until the feed stops.
   */
  private async follow(stream: AlertStream): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const last = await stream.lastSeq();
        const stop = await stream.follow(last, this.onStreamAlert);
        if (this.stopped) {
          await stop();
          return;
        }
        // the follower delivers from last + 1 on: set the head before the first one arrives
        this.ringFloor = Math.max(this.ringFloor, last);
        this.headSeq ??= last;
        this.stopFollowing = stop;
        if (attempt > 1) this.log.info({ lastSeq: last }, 'live feed: following DRIFT_ALERTS');
        return;
      } catch (err) {
        this.log.error({ err, attempt }, 'live feed: cannot follow DRIFT_ALERTS yet (no alert frames, resumes wait); retrying in 2 s');
        await new Promise((resolve) => setTimeout(resolve, 2000).unref());
      }
    }
  }

  /** Resolves once the feed follows DRIFT_ALERTS (at once without a stream); rejects when it cannot. */
  async ready(): Promise<void> {
    await this.followReady;
  }

  /** Detach, close every client (1001) and wait briefly for the close handshakes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.server?.off('upgrade', this.onUpgrade);
    this.source.off('metrics', this.onSourceMetrics);
    this.source.off('released', this.onSourceReleased);
    this.source.off('alert', this.onSourceAlert);
    clearInterval(this.heartbeatTimer);
    clearInterval(this.drainTimer);
    clearInterval(this.clusterTimer);
    for (const state of this.throttle.values()) clearTimeout(state.timer);
    this.throttle.clear();
    await this.followReady?.catch(() => undefined);
    await this.stopFollowing?.().catch((err: unknown) => this.log.warn({ err }, 'live feed: stopping the alerts consumer failed'));
    const closed: Promise<void>[] = [];
    for (const client of this.clients) {
      closed.push(new Promise((resolve) => client.ws.once('close', () => resolve())));
      this.closeClient(client, 1001, 'server shutting down');
    }
    await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, Math.min(this.opts.closeGraceMs, 1000)).unref())]);
    for (const client of this.clients) client.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** The last alert sequence the feed has sent; undefined without a stream (or before following it). */
  get lastAlertSeq(): number | undefined {
    return this.headSeq;
  }

  /** Per-client buffer figures, for tests and debugging. */
  clientStats(): LiveClientStats[] {
    return [...this.clients].map((c) => ({
      subscriptions: c.subs.size,
      pendingFrames: c.pending.size,
      queuedAlerts: c.alertQueue.length,
      bufferedAmount: c.ws.bufferedAmount,
    }));
  }

  private accept(ws: WebSocket): void {
    const client = new LiveClient(
      ws,
      { messageRatePerSecond: this.opts.messageRatePerSecond, messageBurst: this.opts.messageBurst, badMessageWindowMs: this.opts.badMessageWindowMs },
      Date.now(),
    );
    this.clients.add(client);
    this.metrics.wsConnections.inc({ result: 'accepted' });
    this.metrics.wsClients.inc();
    ws.on('pong', () => {
      client.wsAlive = true;
    });
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', (err) => this.log.debug({ err }, 'live feed: client socket error'));
    ws.on('close', () => {
      clearTimeout(client.closeTimer);
      this.clients.delete(client);
      this.backlogged.delete(client);
      client.release();
      this.metrics.wsClients.dec();
    });
  }

  // ---- updates (metrics, drift) ------------------------------------------------------------

  private throttleTimer(model: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const state = this.throttle.get(model);
      if (state === undefined) return;
      if (!state.dirty) {
        this.throttle.delete(model);
        return;
      }
      state.dirty = false;
      state.timer = this.throttleTimer(model);
      this.guard('broadcasting metrics', () => this.broadcastUpdates(model));
    }, this.opts.metricsIntervalMs);
    timer.unref();
    return timer;
  }

  private broadcastUpdates(model: string): void {
    // One set of frames per (window, version) shared by the clients that asked for it.
    const frames = new Map<string, UpdateFrames>();
    const now = Date.now();
    for (const client of this.clients) {
      if (client.closing) continue;
      const sub = client.subscriptionFor(model);
      if (sub === undefined || !hasUpdates(sub)) continue;
      if (client.pending.size > 0 || client.ws.bufferedAmount > this.opts.maxBufferedBytes || now - (client.lastMetricsAt.get(model) ?? 0) < this.opts.metricsIntervalMs) {
        this.markPending(client, model, 'update', now);
        continue;
      }
      this.sendUpdate(client, model, sub, now, frames);
    }
  }

  private updateFrames(model: string, sub: Subscription, cache: Map<string, UpdateFrames>): UpdateFrames {
    const key = `${model}\u0000${sub.window}\u0000${sub.version ?? ''}`;
    let frames = cache.get(key);
    if (frames === undefined) {
      const metrics = this.source.getMetrics(model, sub.window, sub.version);
      frames = {
        metrics: metrics === undefined ? null : JSON.stringify({ type: 'metrics', model, window: sub.window, metrics: withoutDrift(metrics) }),
        drift: metrics === undefined ? null : this.driftFrame(key, model, sub, metrics),
      };
      cache.set(key, frames);
    }
    return frames;
  }

  /** The drift frame of (model, window, version) and a stamp that changes when the drift does. */
  private driftFrame(key: string, model: string, sub: Subscription, metrics: ModelMetrics): { frame: string; stamp: number } {
    const json = JSON.stringify(metrics.drift);
    let state = this.driftState.get(key);
    if (state?.json !== json) {
      state = { json, stamp: ++this.driftStamps };
      this.driftState.set(key, state);
    }
    const head = JSON.stringify({ type: 'drift', model, window: sub.window, version: sub.version ?? null });
    return { frame: `${head.slice(0, -1)},"drift":${json}}`, stamp: state.stamp };
  }

  private sendUpdate(client: LiveClient, model: string, sub: Subscription, now: number, cache: Map<string, UpdateFrames>): void {
    const frames = this.updateFrames(model, sub, cache);
    if (sub.metrics && frames.metrics !== null) {
      client.ws.send(frames.metrics);
      this.sent.metrics.inc();
      client.lastMetricsAt.set(model, now);
    }
    if (sub.drift && frames.drift !== null && client.lastDriftStamp.get(model) !== frames.drift.stamp) {
      client.ws.send(frames.drift.frame);
      this.sent.drift.inc();
      client.lastDriftStamp.set(model, frames.drift.stamp);
      client.lastMetricsAt.set(model, now);
    }
  }

  private snapshotFrame(client: LiveClient, model: string, sub: Subscription): string {
    const metrics = this.source.getMetrics(model, sub.window, sub.version) ?? null;
    const alerts = this.source.recentAlerts(model);
    // the snapshot carries the drift: the next drift frame is due only when it changes
    if (metrics !== null) {
      const key = `${model}\u0000${sub.window}\u0000${sub.version ?? ''}`;
      client.lastDriftStamp.set(model, this.driftFrame(key, model, sub, metrics).stamp);
    }
    // `active` is what is pending or firing now, as GET /v1/alerts's `active` (absent from sources without it)
    const active = this.source.activeAlerts?.(model);
    return JSON.stringify({ type: 'snapshot', model, window: sub.window, version: sub.version ?? null, metrics, alerts, ...(active ? { active } : {}) });
  }

  private markPending(client: LiveClient, model: string, kind: PendingKind, now: number): void {
    const previous = client.pending.get(model);
    if (previous !== undefined) this.metrics.wsFramesCoalesced.inc();
    // A pending snapshot already carries the latest metrics when it is built: keep it a snapshot.
    if (previous !== 'snapshot') client.pending.set(model, kind);
    if (client.ws.bufferedAmount > this.opts.maxBufferedBytes && client.slowSince === 0) client.slowSince = now;
    this.backlogged.add(client);
  }

  // ---- cluster -------------------------------------------------------------------------------

  /** Polls the cluster view; when it changed, sends it to the clients subscribed to it. */
  private broadcastCluster(): void {
    if (![...this.clients].some((c) => c.cluster)) return;
    const frame = this.clusterFrame();
    for (const client of this.clients) {
      if (client.closing || !client.cluster || client.lastClusterStamp === frame.stamp) continue;
      if (client.backlogged || client.ws.bufferedAmount > this.opts.maxBufferedBytes) {
        client.clusterPending = true;
        this.backlogged.add(client);
        continue;
      }
      this.sendCluster(client, frame);
    }
  }

  private clusterFrame(): { frame: string; stamp: number } {
    const provider = this.options.clusterSnapshot as () => unknown;
    const json = JSON.stringify(provider() ?? null);
    if (this.cluster?.json !== json) this.cluster = { json, stamp: (this.cluster?.stamp ?? 0) + 1 };
    return { frame: `{"type":"cluster","cluster":${json}}`, stamp: this.cluster.stamp };
  }

  private sendCluster(client: LiveClient, frame: { frame: string; stamp: number }): void {
    client.ws.send(frame.frame);
    this.sent.cluster.inc();
    client.lastClusterStamp = frame.stamp;
    client.clusterPending = false;
  }

  // ---- alerts --------------------------------------------------------------------------------

  private broadcastAlert(entry: AlertFrame): void {
    for (const client of this.clients) {
      if (client.closing || client.subscriptionFor(entry.model)?.alerts !== true) continue;
      if (client.replay !== undefined) {
        client.replay.held.push(entry);
        if (client.replay.held.length > this.opts.maxQueuedAlerts) this.drop(client, 'alert_overflow');
        continue;
      }
      this.deliverInOrder(client, entry.frame, this.sent.alert);
    }
  }

  /** Alert frames and the `resumed` marker: sent in order, queued (bounded) while the client is behind. */
  private deliverInOrder(client: LiveClient, frame: string, counter: { inc(): void }): void {
    if (client.closing) return;
    if (client.alertQueue.length === 0 && client.ws.bufferedAmount <= this.opts.maxBufferedBytes) {
      client.ws.send(frame);
      counter.inc();
      return;
    }
    if (client.alertQueue.length >= this.opts.maxQueuedAlerts) {
      this.drop(client, 'alert_overflow');
      return;
    }
    client.alertQueue.push(frame);
    if (client.slowSince === 0 && client.ws.bufferedAmount > this.opts.maxBufferedBytes) client.slowSince = Date.now();
    this.backlogged.add(client);
  }

  /**
   * Replays the alerts after `lastSeq` for the models of one subscribe: from memory when the ring
   * still holds them, else from the stream. Live frames for the client are held meanwhile and
   * sent after the replay, those already replayed excepted, so each sequence arrives once.
   */
  private resume(client: LiveClient, models: readonly string[], lastSeq: number): void {
    const stream = this.options.alertStream;
    if (stream === undefined || this.followReady === undefined) {
      this.sendErrorFrame(client, 'resume_unavailable', 'resume is unavailable: this gateway does not follow DRIFT_ALERTS, so alert frames carry no seq');
      return;
    }
    if (client.replay !== undefined) {
      this.sendErrorFrame(client, 'invalid_message', 'subscribe.lastSeq: a resume is already in progress on this connection');
      return;
    }
    const replay = { held: [] as AlertFrame[] };
    client.replay = replay;
    const everyModel = models.includes(WILDCARD);
    const wanted = (model: string): boolean => (everyModel || models.includes(model)) && client.subscriptionFor(model)?.alerts === true;
    const followReady = this.followReady;
    void (async () => {
      let upto = lastSeq;
      const replayed: AlertFrame[] = [];
      let firstSeq: number | undefined;
      try {
        await followReady;
        upto = this.headSeq as number;
        if (lastSeq < upto) {
          if (lastSeq >= this.ringFloor) {
            for (const entry of this.ring) if (entry.seq !== undefined && entry.seq > lastSeq && entry.seq <= upto) replayed.push(entry);
          } else {
            const read = await stream.read(lastSeq, upto, ({ seq, alert }) => replayed.push({ seq, model: alert.model, frame: alertFrame(seq, alert) }));
            firstSeq = read.firstSeq;
          }
        }
      } catch (err) {
        this.log.warn({ err }, 'live feed: reading missed alerts failed');
        if (client.replay === replay) client.replay = undefined;
        this.sendErrorFrame(client, 'resume_unavailable', `resume failed: cannot read DRIFT_ALERTS (${(err as Error).message}); the snapshot holds the current alerts`);
        for (const entry of replay.held) this.deliverInOrder(client, entry.frame, this.sent.alert);
        return;
      }
      if (client.replay !== replay || client.closing) return;
      let count = 0;
      for (const entry of replayed) {
        if (!wanted(entry.model)) continue;
        this.deliverInOrder(client, entry.frame, this.sent.alert);
        count++;
      }
      const resumed: Record<string, unknown> = { type: 'resumed', lastSeq, to: upto, replayed: count, complete: true };
      if (lastSeq > upto) {
        resumed.complete = false;
        resumed.message = `lastSeq ${lastSeq} is beyond the last alert sequence ${upto} (was DRIFT_ALERTS recreated?): nothing replayed; alerts continue from ${upto + 1}`;
      } else if (firstSeq !== undefined && firstSeq > lastSeq + 1) {
        resumed.complete = false;
        resumed.message = `alerts ${lastSeq + 1}..${Math.min(firstSeq - 1, upto)} have aged out of DRIFT_ALERTS and cannot be replayed; the snapshot holds the current alerts`;
      }
      this.deliverInOrder(client, JSON.stringify(resumed), this.sent.resumed);
      client.replay = undefined;
      for (const entry of replay.held) if ((entry.seq ?? 0) > upto) this.deliverInOrder(client, entry.frame, this.sent.alert);
    })().catch((err: unknown) => this.log.error({ err }, 'live feed: resume failed'));
  }

  // ---- flow control --------------------------------------------------------------------------

  /** Periodic: send what slow clients have pending once their buffer drained, drop the stuck ones. */
  private drainBacklog(): void {
    if (this.backlogged.size === 0) return;
    const now = Date.now();
    const limit = this.opts.maxBufferedBytes;
    const frames = new Map<string, UpdateFrames>();
    for (const client of this.backlogged) {
      if (client.closing || client.ws.readyState !== WebSocket.OPEN) {
        this.backlogged.delete(client);
        continue;
      }
      if (client.ws.bufferedAmount > limit) {
        if (client.slowSince === 0) client.slowSince = now;
        else if (now - client.slowSince > this.opts.slowClientTimeoutMs) this.drop(client, 'slow');
        continue;
      }
      client.slowSince = 0;
      // Alerts first and in order; then the coalesced per-model frames, built from current data.
      while (client.alertQueue.length > 0 && client.ws.bufferedAmount <= limit) {
        const frame = client.alertQueue.shift() as string;
        client.ws.send(frame);
        (frame.startsWith('{"type":"resumed"') ? this.sent.resumed : this.sent.alert).inc();
      }
      if (client.alertQueue.length === 0 && client.clusterPending && client.ws.bufferedAmount <= limit && this.options.clusterSnapshot !== undefined) {
        this.sendCluster(client, this.clusterFrame());
      }
      for (const [model, kind] of client.pending) {
        if (client.alertQueue.length > 0 || client.ws.bufferedAmount > limit) break;
        const sub = client.subscriptionFor(model);
        if (sub === undefined) {
          client.pending.delete(model);
          continue;
        }
        if (kind === 'update') {
          if (now - (client.lastMetricsAt.get(model) ?? 0) < this.opts.metricsIntervalMs) continue;
          client.pending.delete(model);
          this.sendUpdate(client, model, sub, now, frames);
        } else {
          client.pending.delete(model);
          client.ws.send(this.snapshotFrame(client, model, sub));
          this.sent.snapshot.inc();
        }
      }
      if (!client.backlogged) this.backlogged.delete(client);
      else if (client.ws.bufferedAmount > limit) client.slowSince = now;
    }
  }

  private heartbeat(): void {
    const ping = JSON.stringify({ type: 'ping', t: Date.now() });
    for (const client of this.clients) {
      if (client.closing) continue;
      if (!client.wsAlive) {
        // no answer at the protocol level: the connection is gone, no close handshake to wait for
        this.metrics.wsClientsDropped.inc({ reason: 'heartbeat' });
        client.closing = true;
        client.ws.terminate();
        continue;
      }
      if (client.awaitingPong && client.answersPings && this.opts.requireJsonPong) {
        this.drop(client, 'heartbeat');
        continue;
      }
      client.wsAlive = false;
      client.ws.ping();
      // a ping that cannot be sent now (full buffer) is not awaited: that client is on the slow clock
      client.awaitingPong = this.sendControl(client, ping, this.sent.ping);
    }
  }

  private drop(client: LiveClient, reason: DropReason): void {
    if (client.closing) return;
    this.metrics.wsClientsDropped.inc({ reason });
    this.log.info({ reason, bufferedAmount: client.ws.bufferedAmount }, 'live feed: dropping client');
    this.closeClient(client, CLOSE_CODE[reason], CLOSE_REASON[reason]);
  }

  private closeClient(client: LiveClient, code: number, reason: string): void {
    client.closing = true;
    this.backlogged.delete(client);
    // Release queued data now: a stuck client must not keep it for the close handshake.
    client.release();
    client.ws.close(code, reason);
    // The close frame sits behind a full buffer for a slow client: do not wait for it long.
    client.closeTimer = setTimeout(() => client.ws.terminate(), this.opts.closeGraceMs);
    client.closeTimer.unref();
  }

  // ---- client messages -----------------------------------------------------------------------

  /** A bad client message: counted towards the invalid-message limit, answered with an error frame. */
  private reject(client: LiveClient, error: Pick<ProtocolError, 'code' | 'message'>): void {
    if (client.closing) return;
    if (client.badMessages.add(Date.now()) > this.opts.badMessageLimit) {
      this.drop(client, 'flood');
      return;
    }
    this.sendErrorFrame(client, error.code, error.message);
  }

  private sendErrorFrame(client: LiveClient, code: ErrorCode, message: string, model?: string): void {
    if (client.closing) return;
    this.sendControl(client, JSON.stringify(model === undefined ? { type: 'error', code, message } : { type: 'error', code, message, model }), this.sent.error);
  }

  /**
   * Acks, pongs and error frames answer the client's own messages. Over the buffer limit they are
   * not sent (a client that writes but never reads must not grow our buffer), and the client is
   * put on the slow-client clock like any other backlog. Returns whether the frame was sent.
   */
  private sendControl(client: LiveClient, frame: string, counter: { inc(): void }): boolean {
    if (client.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      if (client.slowSince === 0) client.slowSince = Date.now();
      this.backlogged.add(client);
      return false;
    }
    client.ws.send(frame);
    counter.inc();
    return true;
  }

  private onMessage(client: LiveClient, data: RawData, isBinary: boolean): void {
    if (client.closing) return;
    const now = Date.now();
    if (!client.bucket.take(now)) {
      this.rateLimited(client, now);
      return;
    }
    client.rateLimited = false;
    const size = rawSize(data);
    if (size > this.opts.maxMessageBytes) {
      this.reject(client, { code: 'too_large', message: `message of ${size} bytes is larger than the limit of ${this.opts.maxMessageBytes} bytes` });
      return;
    }
    if (isBinary) {
      this.reject(client, { code: 'binary', message: 'binary messages are not supported: send JSON text' });
      return;
    }
    const parsed = parseClientMessage(rawText(data), this.parseContext);
    if (parsed.kind === 'error') {
      this.reject(client, parsed);
      return;
    }
    try {
      if (parsed.kind === 'subscribe') this.subscribe(client, parsed);
      else if (parsed.kind === 'unsubscribe') this.unsubscribe(client, parsed);
      else this.onHeartbeat(client, parsed);
    } catch (err) {
      this.log.error({ err }, `live feed: failed to handle ${parsed.kind}`);
      this.sendErrorFrame(client, 'internal', `internal error handling ${parsed.kind}`);
    }
  }

  /**
   * A subscription to a version a held model has never shown (a typo, or a rollout still to come)
   * stands, and its snapshot is empty; the client is told so, with the versions seen, as REST
   * answers 404 for it. A model the gateway does not hold yet is not flagged: its versions are unknown.
   */
  private noticeUnseenVersion(client: LiveClient, models: readonly string[], version: string): void {
    const knownVersions = this.source.knownVersions?.bind(this.source);
    if (knownVersions === undefined) return;
    for (const model of models) {
      if (model === WILDCARD) continue;
      const known = knownVersions(model);
      if (known === undefined || known.includes(version)) continue;
      const listed = known.length > 0 ? known.join(', ') : 'none';
      this.sendErrorFrame(
        client,
        'unknown_version',
        `version '${version}' of model '${model}' has not been seen (known versions: ${listed}): the subscription stands, and its frames stay empty until that version's events arrive`,
        model,
      );
    }
  }

  /** Over the rate: the message is dropped; the first drop of a run says so, sustained abuse closes. */
  private rateLimited(client: LiveClient, now: number): void {
    if (client.rateDrops.add(now) > this.opts.rateLimitDropLimit) {
      this.drop(client, 'rate_limit');
      return;
    }
    if (client.rateLimited) return;
    client.rateLimited = true;
    this.sendErrorFrame(
      client,
      'rate_limited',
      `more than ${this.opts.messageRatePerSecond} messages per second (bursts of ${this.opts.messageBurst}): messages are dropped until the rate falls`,
    );
  }

  private onHeartbeat(client: LiveClient, msg: HeartbeatMessage): void {
    if (msg.kind === 'pong') {
      client.awaitingPong = false;
      client.answersPings = true;
      return;
    }
    this.sendControl(client, JSON.stringify(msg.id === undefined ? { type: 'pong' } : { type: 'pong', id: msg.id }), this.sent.pong);
  }

  private subscribe(client: LiveClient, msg: SubscribeMessage): void {
    const added = msg.models.filter((n) => !client.subs.has(n)).length;
    if (client.subs.size + added > this.opts.maxSubscriptions) {
      this.reject(client, {
        code: 'too_many_subscriptions',
        message: `too many subscriptions: ${client.subs.size} + ${added} new would exceed maxSubscriptions ${this.opts.maxSubscriptions}`,
      });
      return;
    }
    const sub: Subscription = {
      metrics: msg.topics.includes('metrics'),
      drift: msg.topics.includes('drift'),
      alerts: msg.topics.includes('alerts'),
      window: msg.window,
      version: msg.version,
    };
    for (const model of msg.models) client.subs.set(model, sub);
    const clusterAsked = msg.topics.includes('cluster');
    const clusterAvailable = this.options.clusterSnapshot !== undefined;
    if (clusterAsked && clusterAvailable) client.cluster = true;
    const topics = clusterAsked && !clusterAvailable ? msg.topics.filter((t) => t !== 'cluster') : msg.topics;
    const ack: Record<string, unknown> = { type: 'subscribed', models: msg.models, topics, window: msg.window, version: msg.version ?? null };
    // where a client without a resume starts: the seq to send as lastSeq after a reconnect if no alert came
    if (sub.alerts && msg.lastSeq === undefined && this.headSeq !== undefined) ack.lastSeq = this.headSeq;
    this.sendControl(client, JSON.stringify(ack), this.sent.subscribed);
    if (clusterAsked && !clusterAvailable) {
      this.sendErrorFrame(client, 'cluster_unavailable', 'cluster view is unavailable on this gateway: the "cluster" topic was not subscribed');
    }
    if (msg.version !== undefined) this.noticeUnseenVersion(client, msg.models, msg.version);

    const snapshotModels = new Set(msg.models.filter((m) => m !== WILDCARD));
    if (msg.models.includes(WILDCARD)) {
      // '*' snapshots every model that is not covered by an explicit subscription of its own.
      for (const { model } of this.source.listModels()) {
        const own = client.subs.get(model);
        if (own === undefined || own === sub) snapshotModels.add(model);
      }
    }
    const now = Date.now();
    for (const model of snapshotModels) {
      if (client.backlogged || client.ws.bufferedAmount > this.opts.maxBufferedBytes) {
        this.markPending(client, model, 'snapshot', now);
        continue;
      }
      client.ws.send(this.snapshotFrame(client, model, sub));
      this.sent.snapshot.inc();
    }
    if (client.cluster && clusterAsked) {
      try {
        const frame = this.clusterFrame();
        if (client.backlogged || client.ws.bufferedAmount > this.opts.maxBufferedBytes) {
          client.clusterPending = true;
          this.backlogged.add(client);
        } else this.sendCluster(client, frame);
      } catch (err) {
        this.log.error({ err }, 'live feed: the cluster view failed');
        this.sendErrorFrame(client, 'cluster_unavailable', `cluster view is unavailable: ${(err as Error).message}`);
      }
    }
    if (msg.lastSeq !== undefined) this.resume(client, msg.models, msg.lastSeq);
  }

  private unsubscribe(client: LiveClient, msg: UnsubscribeMessage): void {
    const modelTopics = msg.topics?.filter((t): t is Exclude<Topic, 'cluster'> => t !== 'cluster');
    const targets = msg.models.includes(WILDCARD) ? [...client.subs.keys()] : msg.models;
    for (const model of targets) {
      if (msg.topics === undefined) {
        client.subs.delete(model);
        continue;
      }
      const sub = client.subs.get(model);
      if (sub === undefined || modelTopics === undefined || modelTopics.length === 0) continue;
      const rest: Subscription = { ...sub };
      for (const topic of modelTopics) rest[topic] = false;
      if (MODEL_TOPICS.some((t) => rest[t])) client.subs.set(model, rest);
      else client.subs.delete(model);
    }
    if (msg.topics === undefined ? msg.models.includes(WILDCARD) : msg.topics.includes('cluster')) client.cluster = false;
    client.prune();
    this.sendControl(client, JSON.stringify(msg.topics === undefined ? { type: 'unsubscribed', models: msg.models } : { type: 'unsubscribed', models: msg.models, topics: msg.topics }), this.sent.unsubscribed);
  }
}

function alertFrame(seq: number, alert: AlertEvent): string {
  return JSON.stringify({ type: 'alert', seq, model: alert.model, alert });
}

/** Answer an upgrade request with a plain HTTP error and close the socket (no WebSocket). */
function rejectUpgrade(socket: Duplex, statusCode: number, message: string): void {
  const body = JSON.stringify(errorBody(statusCode, message));
  const head = [
    `HTTP/1.1 ${statusCode} ${errorBody(statusCode, '').error}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (statusCode === 401) head.push(`WWW-Authenticate: ${BEARER_CHALLENGE}`);
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
