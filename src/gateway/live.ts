/**
 * The WebSocket live feed, `GET /v1/live` (upgrade).
 *
 * Protocol (JSON text frames):
 *   client -> server
 *     {"type":"subscribe","models":["m","*"],"topics":["metrics","alerts"],"window":"5m","version":"v2"}
 *     {"type":"unsubscribe","models":["m"]}                       ("*" in unsubscribe removes everything)
 *   server -> client
 *     {"type":"subscribed","models":[...],"topics":[...],"window":"5m","version":null}   ack of a subscribe
 *     {"type":"snapshot","model","window","metrics":ModelMetrics|null,"alerts":AlertEvent[]}  one per model
 *     {"type":"metrics","model","window","metrics":ModelMetrics}   at most once per second per model
 *     {"type":"alert","model","alert":AlertEvent}                  immediately
 *     {"type":"unsubscribed","models":[...]}
 *     {"type":"error","message","model"?}                          a bad client message; the connection stays
 *
 * Throttling: a model's metrics are broadcast on the leading edge of a change and then at most once
 * per `metricsIntervalMs`; changes inside the interval are coalesced and the latest state is sent
 * when it ends. Frames are built from the source when they are sent, so the latest data wins and
 * one serialized frame is shared by every client on the same (model, window, version).
 *
 * Backpressure: before each send the client's `bufferedAmount` is checked. Over `maxBufferedBytes`,
 * metrics/snapshots become a per-model "pending" mark (a newer update replaces an older one, so
 * the memory is one entry per subscribed model), alerts go to a bounded queue. A client that stays
 * over the limit for `slowClientTimeoutMs`, or whose alert queue is full, is closed with 1013 and
 * terminated shortly after. Memory per client is thus bounded by maxBufferedBytes + one frame +
 * one mark per model + maxQueuedAlerts frames.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import type { FastifyBaseLogger } from 'fastify';
import type { AlertEvent } from '../contract/metrics.ts';
import type { MetricsSource } from '../contract/metrics-source.ts';
import type { GatewayMetrics } from '../contract/pipeline-metrics.ts';
import type { TokenAuthenticator } from './auth.ts';
import { BEARER_CHALLENGE, queryTokenOf } from './auth.ts';
import { NAME_MAX_LENGTH, NAME_PATTERN } from './schemas.ts';
import { defaultWindowOf, VERSION_MAX_LENGTH } from '../contract/limits.ts';
import { errorBody, safePath } from './errors.ts';

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
  /** Heartbeat: a client that did not answer the previous ping is terminated. Default 30 s. */
  pingIntervalMs?: number;
  /** Minimum interval between two metrics frames of one model to one client. Default 1000 ms. */
  metricsIntervalMs?: number;
  /** A client above maxBufferedBytes for longer than this is dropped (1013). Default 10 s. */
  slowClientTimeoutMs?: number;
  /** Alerts queued for a client over maxBufferedBytes; one more drops the client (1013). Default 256. */
  maxQueuedAlerts?: number;
  /** More bad messages than this within badMessageWindowMs closes the connection (1008). Default 50. */
  badMessageLimit?: number;
  badMessageWindowMs?: number;
  /** Concurrent clients; further upgrades get 503. Default 10000. */
  maxClients?: number;
  /** Window used when a subscribe names none (default: defaultWindowOf the source's windows). */
  defaultWindow?: string;
}

type ResolvedOptions = Required<Omit<LiveFeedOptions, 'defaultWindow'>> & { defaultWindow: string | undefined };

export type DropReason = 'slow' | 'alert_overflow' | 'flood' | 'heartbeat';

const CLOSE_CODE: Record<DropReason, number> = { slow: 1013, alert_overflow: 1013, flood: 1008, heartbeat: 1001 };
const CLOSE_REASON: Record<DropReason, string> = {
  slow: 'client too slow: send buffer stayed full',
  alert_overflow: 'client too slow: alert queue full',
  flood: 'too many invalid messages',
  heartbeat: 'no pong',
};
/** How long a closing client may take to finish the close handshake before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000;
const WILDCARD = '*';
const TOPICS = ['metrics', 'alerts'] as const;
type Topic = (typeof TOPICS)[number];
const NAME_REGEX = new RegExp(NAME_PATTERN, 'u');

interface Subscription {
  metrics: boolean;
  alerts: boolean;
  window: string;
  version: string | undefined;
}

type PendingKind = 'snapshot' | 'metrics';

class LiveClient {
  /** Keyed by model name or '*'. An explicit model entry takes precedence over '*'. */
  readonly subs = new Map<string, Subscription>();
  /** Coalesced frames waiting for the send buffer to drain, by model: at most one per model. */
  readonly pending = new Map<string, PendingKind>();
  readonly alertQueue: string[] = [];
  readonly lastMetricsAt = new Map<string, number>();
  alive = true;
  /** When the send buffer was first seen above the limit; 0 = not slow. */
  slowSince = 0;
  badCount = 0;
  badWindowStart = 0;
  closing = false;
  closeTimer: NodeJS.Timeout | undefined;

  constructor(readonly ws: WebSocket) {}

  subscriptionFor(model: string): Subscription | undefined {
    return this.subs.get(model) ?? this.subs.get(WILDCARD);
  }
}

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

/** A validated client message, or the text of an error frame. */
type Parsed =
  | { kind: 'subscribe'; models: string[]; topics: Topic[]; window: string; version: string | undefined }
  | { kind: 'unsubscribe'; models: string[] }
  | { kind: 'error'; message: string; model?: string };

export class LiveFeed {
  private readonly opts: ResolvedOptions;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<LiveClient>();
  /** Clients with pending frames or queued alerts, visited by the drain tick. */
  private readonly backlogged = new Set<LiveClient>();
  /** Feed-level throttle per model: a timer runs while the model is inside its interval. */
  private readonly throttle = new Map<string, { timer: NodeJS.Timeout; dirty: boolean }>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private server: Server | undefined;
  private readonly sent;

  constructor(
    private readonly source: MetricsSource,
    private readonly metrics: GatewayMetrics,
    private readonly auth: TokenAuthenticator | undefined,
    private readonly log: FastifyBaseLogger,
    options: LiveFeedOptions = {},
  ) {
    const maxMessageBytes = positiveInt('maxMessageBytes', options.maxMessageBytes ?? 16 * 1024);
    this.opts = {
      path: options.path ?? '/v1/live',
      maxBufferedBytes: positiveInt('maxBufferedBytes', options.maxBufferedBytes ?? 1024 * 1024),
      maxSubscriptions: positiveInt('maxSubscriptions', options.maxSubscriptions ?? 100),
      maxMessageBytes,
      pingIntervalMs: positiveInt('pingIntervalMs', options.pingIntervalMs ?? 30_000),
      metricsIntervalMs: positiveInt('metricsIntervalMs', options.metricsIntervalMs ?? 1000),
      slowClientTimeoutMs: positiveInt('slowClientTimeoutMs', options.slowClientTimeoutMs ?? 10_000),
      maxQueuedAlerts: positiveInt('maxQueuedAlerts', options.maxQueuedAlerts ?? 256),
      badMessageLimit: positiveInt('badMessageLimit', options.badMessageLimit ?? 50),
      badMessageWindowMs: positiveInt('badMessageWindowMs', options.badMessageWindowMs ?? 10_000),
      maxClients: positiveInt('maxClients', options.maxClients ?? 10_000),
      defaultWindow: options.defaultWindow,
    };
    this.wss = new WebSocketServer({
      noServer: true,
      // Between maxMessageBytes and this, a message gets an error frame; above it ws closes with 1009
      // without buffering it, which bounds the memory a single message can take.
      maxPayload: Math.max(4 * maxMessageBytes, 64 * 1024),
      perMessageDeflate: false,
    });
    this.sent = {
      snapshot: metrics.wsFramesSent.labels({ type: 'snapshot' }),
      metrics: metrics.wsFramesSent.labels({ type: 'metrics' }),
      alert: metrics.wsFramesSent.labels({ type: 'alert' }),
      error: metrics.wsFramesSent.labels({ type: 'error' }),
      subscribed: metrics.wsFramesSent.labels({ type: 'subscribed' }),
      unsubscribed: metrics.wsFramesSent.labels({ type: 'unsubscribed' }),
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
    this.guard('broadcasting metrics', () => this.broadcastMetrics(model));
  };

  private readonly onSourceAlert = (alert: AlertEvent): void => {
    this.guard('broadcasting an alert', () => {
      let frame: string | undefined;
      for (const client of this.clients) {
        if (client.closing || client.subscriptionFor(alert.model)?.alerts !== true) continue;
        frame ??= JSON.stringify({ type: 'alert', model: alert.model, alert });
        this.deliverAlert(client, frame);
      }
    });
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

  /** Attach to the HTTP server and the source. */
  start(server: Server): void {
    this.server = server;
    server.on('upgrade', this.onUpgrade);
    this.source.on('metrics', this.onSourceMetrics);
    this.source.on('alert', this.onSourceAlert);
    this.heartbeatTimer = setInterval(() => this.guard('sending heartbeats', () => this.heartbeat()), this.opts.pingIntervalMs);
    this.heartbeatTimer.unref();
    const drainEvery = Math.max(10, Math.min(250, Math.floor(this.opts.metricsIntervalMs / 4), Math.floor(this.opts.slowClientTimeoutMs / 4)));
    this.drainTimer = setInterval(() => this.guard('draining slow clients', () => this.drainBacklog()), drainEvery);
    this.drainTimer.unref();
  }

  /** Detach, close every client (1001) and wait briefly for the close handshakes. */
  async stop(): Promise<void> {
    this.server?.off('upgrade', this.onUpgrade);
    this.source.off('metrics', this.onSourceMetrics);
    this.source.off('alert', this.onSourceAlert);
    clearInterval(this.heartbeatTimer);
    clearInterval(this.drainTimer);
    for (const state of this.throttle.values()) clearTimeout(state.timer);
    this.throttle.clear();
    const closed: Promise<void>[] = [];
    for (const client of this.clients) {
      closed.push(new Promise((resolve) => client.ws.once('close', () => resolve())));
      this.closeClient(client, 1001, 'server shutting down');
    }
    await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
    for (const client of this.clients) client.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  get clientCount(): number {
    return this.clients.size;
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
    const client = new LiveClient(ws);
    this.clients.add(client);
    this.metrics.wsConnections.inc({ result: 'accepted' });
    this.metrics.wsClients.inc();
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', (err) => this.log.debug({ err }, 'live feed: client socket error'));
    ws.on('close', () => {
      clearTimeout(client.closeTimer);
      this.clients.delete(client);
      this.backlogged.delete(client);
      client.subs.clear();
      client.pending.clear();
      client.alertQueue.length = 0;
      client.lastMetricsAt.clear();
      this.metrics.wsClients.dec();
    });
  }

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
      this.guard('broadcasting metrics', () => this.broadcastMetrics(model));
    }, this.opts.metricsIntervalMs);
    timer.unref();
    return timer;
  }

  private broadcastMetrics(model: string): void {
    // One frame per (window, version) shared by the clients that asked for it.
    let frames: Map<string, string | null> | undefined;
    const now = Date.now();
    for (const client of this.clients) {
      if (client.closing) continue;
      const sub = client.subscriptionFor(model);
      if (sub === undefined || !sub.metrics) continue;
      if (client.pending.size > 0 || client.ws.bufferedAmount > this.opts.maxBufferedBytes || now - (client.lastMetricsAt.get(model) ?? 0) < this.opts.metricsIntervalMs) {
        this.markPending(client, model, 'metrics', now);
        continue;
      }
      frames ??= new Map();
      const key = `${sub.window}\u0000${sub.version ?? ''}`;
      let frame = frames.get(key);
      if (frame === undefined) {
        frame = this.metricsFrame(model, sub);
        frames.set(key, frame);
      }
      if (frame === null) continue;
      client.ws.send(frame);
      this.sent.metrics.inc();
      client.lastMetricsAt.set(model, now);
    }
  }

  private metricsFrame(model: string, sub: Subscription): string | null {
    const metrics = this.source.getMetrics(model, sub.window, sub.version);
    return metrics === undefined ? null : JSON.stringify({ type: 'metrics', model, window: sub.window, metrics });
  }

  private snapshotFrame(model: string, sub: Subscription): string {
    const metrics = this.source.getMetrics(model, sub.window, sub.version) ?? null;
    const alerts = this.source.recentAlerts(model);
    return JSON.stringify({ type: 'snapshot', model, window: sub.window, metrics, alerts });
  }

  private markPending(client: LiveClient, model: string, kind: PendingKind, now: number): void {
    const previous = client.pending.get(model);
    if (previous !== undefined) this.metrics.wsFramesCoalesced.inc();
    // A pending snapshot already carries the latest metrics when it is built: keep it a snapshot.
    if (previous !== 'snapshot') client.pending.set(model, kind);
    if (client.ws.bufferedAmount > this.opts.maxBufferedBytes && client.slowSince === 0) client.slowSince = now;
    this.backlogged.add(client);
  }

  private deliverAlert(client: LiveClient, frame: string): void {
    if (client.alertQueue.length === 0 && client.ws.bufferedAmount <= this.opts.maxBufferedBytes) {
      client.ws.send(frame);
      this.sent.alert.inc();
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

  /** Periodic: send what slow clients have pending once their buffer drained, drop the stuck ones. */
  private drainBacklog(): void {
    if (this.backlogged.size === 0) return;
    const now = Date.now();
    const limit = this.opts.maxBufferedBytes;
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
        client.ws.send(client.alertQueue.shift() as string);
        this.sent.alert.inc();
      }
      for (const [model, kind] of client.pending) {
        if (client.ws.bufferedAmount > limit) break;
        const sub = client.subscriptionFor(model);
        if (sub === undefined) {
          client.pending.delete(model);
          continue;
        }
        if (kind === 'metrics') {
          if (now - (client.lastMetricsAt.get(model) ?? 0) < this.opts.metricsIntervalMs) continue;
          client.pending.delete(model);
          const frame = sub.metrics ? this.metricsFrame(model, sub) : null;
          if (frame === null) continue;
          client.ws.send(frame);
          this.sent.metrics.inc();
          client.lastMetricsAt.set(model, now);
        } else {
          client.pending.delete(model);
          client.ws.send(this.snapshotFrame(model, sub));
          this.sent.snapshot.inc();
        }
      }
      if (client.alertQueue.length === 0 && client.pending.size === 0) this.backlogged.delete(client);
      else if (client.ws.bufferedAmount > limit) client.slowSince = now;
    }
  }

  private heartbeat(): void {
    for (const client of this.clients) {
      if (client.closing) continue;
      if (!client.alive) {
        this.metrics.wsClientsDropped.inc({ reason: 'heartbeat' });
        client.closing = true;
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
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
    client.pending.clear();
    client.alertQueue.length = 0;
    client.ws.close(code, reason);
    // The close frame sits behind a full buffer for a slow client: do not wait for it long.
    client.closeTimer = setTimeout(() => client.ws.terminate(), CLOSE_GRACE_MS);
    client.closeTimer.unref();
  }

  private sendError(client: LiveClient, message: string, model?: string): void {
    if (client.closing) return;
    const now = Date.now();
    if (now - client.badWindowStart > this.opts.badMessageWindowMs) {
      client.badWindowStart = now;
      client.badCount = 0;
    }
    client.badCount++;
    if (client.badCount > this.opts.badMessageLimit) {
      this.drop(client, 'flood');
      return;
    }
    this.sendControl(client, JSON.stringify(model === undefined ? { type: 'error', message } : { type: 'error', message, model }), this.sent.error);
  }

  /**
   * Acks and error frames answer the client's own messages. Over the buffer limit they are not
   * sent (a client that writes but never reads must not grow our buffer), and the client is put on
   * the slow-client clock like any other backlog.
   */
  private sendControl(client: LiveClient, frame: string, counter: { inc(): void }): void {
    if (client.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      if (client.slowSince === 0) client.slowSince = Date.now();
      this.backlogged.add(client);
      return;
    }
    client.ws.send(frame);
    counter.inc();
  }

  private onMessage(client: LiveClient, data: RawData, isBinary: boolean): void {
    if (client.closing) return;
    const size = rawSize(data);
    if (size > this.opts.maxMessageBytes) {
      this.sendError(client, `message of ${size} bytes is larger than the limit of ${this.opts.maxMessageBytes} bytes`);
      return;
    }
    if (isBinary) {
      this.sendError(client, 'binary messages are not supported: send JSON text');
      return;
    }
    const parsed = this.parse(client, rawText(data));
    if (parsed.kind === 'error') {
      this.sendError(client, parsed.message, parsed.model);
      return;
    }
    try {
      if (parsed.kind === 'subscribe') this.subscribe(client, parsed);
      else this.unsubscribe(client, parsed.models);
    } catch (err) {
      this.log.error({ err }, `live feed: failed to handle ${parsed.kind}`);
      this.sendError(client, `internal error handling ${parsed.kind}`);
    }
  }

  private parse(client: LiveClient, text: string): Parsed {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      return { kind: 'error', message: `invalid JSON: ${(err as Error).message}` };
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { kind: 'error', message: 'message must be a JSON object with a "type" field' };
    const m = msg as Record<string, unknown>;
    if (m.type !== 'subscribe' && m.type !== 'unsubscribe') {
      return { kind: 'error', message: `unknown message type ${JSON.stringify(m.type) ?? 'undefined'}: expected "subscribe" or "unsubscribe"` };
    }
    const type = m.type;
    const models = m.models;
    if (!Array.isArray(models) || models.length === 0) return { kind: 'error', message: `${type}.models must be a non-empty array of model names or "*"` };
    if (models.length > this.opts.maxSubscriptions) {
      return { kind: 'error', message: `${type}.models has ${models.length} entries, more than maxSubscriptions ${this.opts.maxSubscriptions}` };
    }
    for (let i = 0; i < models.length; i++) {
      const name: unknown = models[i];
      if (name === WILDCARD) continue;
      if (typeof name !== 'string' || name.length === 0 || name.length > NAME_MAX_LENGTH || !NAME_REGEX.test(name)) {
        return {
          kind: 'error',
          message: `${type}.models[${i}] must be "*" or a model name of 1-${NAME_MAX_LENGTH} characters without whitespace, '.', '*' or '>'`,
        };
      }
    }
    const names = [...new Set(models as string[])];
    if (type === 'unsubscribe') return { kind: 'unsubscribe', models: names };

    let topics: Topic[] = [...TOPICS];
    if (m.topics !== undefined) {
      if (!Array.isArray(m.topics) || m.topics.length === 0 || !m.topics.every((t) => t === 'metrics' || t === 'alerts')) {
        return { kind: 'error', message: 'subscribe.topics must be a non-empty array of "metrics" and/or "alerts"' };
      }
      topics = [...new Set(m.topics as Topic[])];
    }
    const windows = this.source.windows();
    const window = m.window ?? this.opts.defaultWindow ?? defaultWindowOf(windows);
    if (typeof window !== 'string' || !windows.includes(window)) {
      return { kind: 'error', message: `subscribe.window must be one of: ${windows.join(', ')}` };
    }
    let version: string | undefined;
    if (m.version !== undefined && m.version !== null) {
      if (typeof m.version !== 'string' || m.version.length === 0 || m.version.length > VERSION_MAX_LENGTH) {
        return { kind: 'error', message: `subscribe.version must be a version name of 1-${VERSION_MAX_LENGTH} characters` };
      }
      version = m.version;
    }
    const added = names.filter((n) => !client.subs.has(n)).length;
    if (client.subs.size + added > this.opts.maxSubscriptions) {
      return {
        kind: 'error',
        message: `too many subscriptions: ${client.subs.size} + ${added} new would exceed maxSubscriptions ${this.opts.maxSubscriptions}`,
      };
    }
    return { kind: 'subscribe', models: names, topics, window, version };
  }

  private subscribe(client: LiveClient, msg: Extract<Parsed, { kind: 'subscribe' }>): void {
    const sub: Subscription = {
      metrics: msg.topics.includes('metrics'),
      alerts: msg.topics.includes('alerts'),
      window: msg.window,
      version: msg.version,
    };
    for (const model of msg.models) client.subs.set(model, sub);
    this.sendControl(
      client,
      JSON.stringify({ type: 'subscribed', models: msg.models, topics: msg.topics, window: msg.window, version: msg.version ?? null }),
      this.sent.subscribed,
    );

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
      if (client.pending.size > 0 || client.ws.bufferedAmount > this.opts.maxBufferedBytes) {
        this.markPending(client, model, 'snapshot', now);
        continue;
      }
      client.ws.send(this.snapshotFrame(model, sub));
      this.sent.snapshot.inc();
    }
  }

  private unsubscribe(client: LiveClient, models: string[]): void {
    if (models.includes(WILDCARD)) client.subs.clear();
    else for (const model of models) client.subs.delete(model);
    for (const model of client.pending.keys()) {
      if (client.subscriptionFor(model) === undefined) client.pending.delete(model);
    }
    for (const model of client.lastMetricsAt.keys()) {
      if (client.subscriptionFor(model) === undefined) client.lastMetricsAt.delete(model);
    }
    this.sendControl(client, JSON.stringify({ type: 'unsubscribed', models }), this.sent.unsubscribed);
  }
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
