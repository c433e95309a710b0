import type { Logger } from 'pino';
import type { Acknowledgement, ActiveAlert, AuditEntry, Silence } from '../contract/alerting.ts';
import type { AlertEvent } from '../contract/metrics.ts';
import type { AlertIdentity } from '../alerts/matchers.ts';
import { matchesAlert } from '../alerts/matchers.ts';
import { episodeOf } from '../alerts/alert-store.ts';
import { silenceActive, silenceFromRequest, silencesCovering } from '../alerts/silences.ts';
import { ackAudit, silenceAudit, transitionAudit, type AuditFilter } from '../alerts/audit.ts';
import { deliverWebhook, receiverWants, type DeliveryOptions, type WebhookReceiver } from '../alerts/webhooks.ts';
import type { AlertAnnotations } from './alert-log.ts';

/** The shared state behind silences, acknowledgements and webhook claims (AlertStateStore over NATS KV, or one in memory in tests). */
export interface AlertStateBackend {
  silences(): Silence[];
  silence(id: string): Silence | undefined;
  putSilence(silence: Silence): Promise<void>;
  acknowledgement(episode: string): Acknowledgement | null;
  putAck(episode: string, ack: Acknowledgement): Promise<void>;
  clearAck(episode: string): Promise<boolean>;
  claim(receiver: string, transitionId: string): Promise<boolean>;
}

export interface AlertActionsOptions {
  store: AlertStateBackend;
  logger: Logger;
  receivers?: readonly WebhookReceiver[];
  /** Appends to the audit trail (DRIFT_AUDIT); a failure is logged. */
  publishAudit?: (entry: AuditEntry) => Promise<void>;
  /** Reads the audit trail (GET /v1/audit). */
  readAudit?: (filter: AuditFilter) => Promise<AuditEntry[]>;
  /** Wall clock; default Date.now. */
  now?: () => number;
  delivery?: Omit<DeliveryOptions, 'signal'>;
}

/** Filters of GET /v1/silences. */
export interface SilenceFilter {
  /** 'active' (in force now), 'pending' (starts later), 'expired'; default all. */
  state?: 'active' | 'pending' | 'expired';
  model?: string;
}

/** A request that names something that does not exist, or cannot be done in its state. */
export class AlertActionError extends Error {
  constructor(
    readonly statusCode: 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'AlertActionError';
  }
}

/**
 * What operators do with alerts, on the gateway: silences (create, list, expire), acknowledgements,
 * webhook notifications of each transition (once across replicas, never for a silenced one) and
 * the audit trail of all of it. State lives in the shared store, so any replica answers the same.
 */
export class AlertActions implements AlertAnnotations {
  private readonly now: () => number;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();

  constructor(private readonly options: AlertActionsOptions) {
    this.now = options.now ?? Date.now;
  }

  silencedBy(alert: AlertIdentity, now: number): string[] {
    return silencesCovering(this.options.store.silences(), alert, now);
  }

  acknowledgement(episode: string): Acknowledgement | null {
    return this.options.store.acknowledgement(episode);
  }

  async createSilence(body: Record<string, unknown>): Promise<Silence> {
    const silence = silenceFromRequest(body, this.now());
    await this.options.store.putSilence(silence);
    this.audit(silenceAudit(silence, 'created', silence.createdBy, silence.createdAt));
    this.options.logger.info({ silence: silence.id, matchers: silence.matchers, endsAt: new Date(silence.endsAt).toISOString(), by: silence.createdBy }, 'silence created');
    return silence;
  }

  listSilences(filter: SilenceFilter = {}): Silence[] {
    const now = this.now();
    return this.options.store.silences().filter((s) => {
      if (filter.model !== undefined && s.matchers.model !== undefined && !matchesAlert({ model: s.matchers.model }, { model: filter.model, rule: '', scope: '' })) return false;
      if (filter.state === undefined) return true;
      return silenceStateOf(s, now) === filter.state;
    });
  }

  /** Ends a silence now (it stays listed as expired); 404 when unknown, 409 when already over. */
  async expireSilence(id: string, by: string): Promise<Silence> {
    const silence = this.options.store.silence(id);
    if (silence === undefined) throw new AlertActionError(404, `unknown silence '${id}'`);
    const now = this.now();
    if (silence.expiredAt !== null || silence.endsAt <= now) throw new AlertActionError(409, `silence '${id}' has already ended`);
    const expired: Silence = { ...silence, expiredAt: now, expiredBy: by };
    await this.options.store.putSilence(expired);
    this.audit(silenceAudit(expired, 'expired', by, now));
    this.options.logger.info({ silence: id, by }, 'silence expired');
    return expired;
  }

  /** Acknowledges a firing alert (found by the caller); shown on it until it resolves. */
  async acknowledge(alert: ActiveAlert, by: string, comment: string): Promise<Acknowledgement> {
    if (alert.state !== 'firing') throw new AlertActionError(409, `alert '${alert.id}' is ${alert.state}, not firing: only a firing alert can be acknowledged`);
    const ack: Acknowledgement = { by, comment, at: this.now() };
    await this.options.store.putAck(episodeOf(alert), ack);
    this.audit(ackAudit(alert, 'acknowledged', ack, ack.at));
    this.options.logger.info({ alert: alert.id, by }, 'alert acknowledged');
    return ack;
  }

  async readAudit(filter: AuditFilter): Promise<AuditEntry[]> {
    if (this.options.readAudit === undefined) return [];
    return this.options.readAudit(filter);
  }

  /** Every transition the alert log announces: audit, clear a resolved episode's acknowledgement, notify the receivers. */
  onTransition(alert: AlertEvent): void {
    this.audit(transitionAudit(alert, this.now()));
    if (alert.state === 'resolved') {
      const episode = episodeOf(alert);
      const ack = this.options.store.acknowledgement(episode);
      if (ack !== null) {
        this.track(
          this.options.store.clearAck(episode).then((cleared) => {
            if (cleared) this.audit(ackAudit({ ...alert, id: `${episode}:firing` }, 'cleared', ack, this.now()));
          }),
        );
      }
    }
    // a silenced transition is recorded (alert stream, history, audit) but nobody is notified
    if (alert.silenced === true) return;
    for (const receiver of this.options.receivers ?? []) {
      if (receiverWants(receiver, alert)) this.track(this.notify(receiver, alert));
    }
  }

  private async notify(receiver: WebhookReceiver, alert: AlertEvent): Promise<void> {
    const { logger, store } = this.options;
    // every replica computes the same transition: the one whose claim is created delivers it
    if (!(await store.claim(receiver.name, alert.id))) return;
    const result = await deliverWebhook(receiver, alert, { ...this.options.delivery, signal: this.stopping.signal });
    const line = { receiver: receiver.name, alert: alert.id, attempts: result.attempts, status: result.status };
    if (result.delivered) logger.info(line, 'webhook delivered');
    else logger.warn({ ...line, err: result.error }, 'webhook delivery failed');
  }

  private audit(entry: AuditEntry): void {
    const publish = this.options.publishAudit;
    if (publish === undefined) return;
    this.track(publish(entry));
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => this.options.logger.warn({ err: (error as Error).message }, 'alert action failed')).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Stops retrying deliveries and waits for the work in flight (audit writes, a delivery attempt). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Resolves once nothing is in flight (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

export function silenceStateOf(silence: Silence, now: number): 'active' | 'pending' | 'expired' {
  if (silenceActive(silence, now)) return 'active';
  return silence.expiredAt === null && now < silence.startsAt ? 'pending' : 'expired';
}
