import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import type { Acknowledgement, Silence } from '../contract/alerting.ts';
import { ALERT_STATE_BUCKET, WEBHOOK_CLAIMS_BUCKET } from '../cluster/subjects.ts';

/** One alert episode (its firing and its resolution share it): `model:rule:scope:startsAt`. */
export function episodeOf(alert: { model: string; rule: string; scope: string; startsAt: number }): string {
  return `${alert.model}:${alert.rule}:${alert.scope}:${alert.startsAt}`;
}

/** KV keys allow only [-/_=.a-zA-Z0-9]: names with other characters are hashed. */
function hashed(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 40);
}

interface StoredAck extends Acknowledgement {
  episode: string;
}

/**
 * Silences and acknowledgements in the KV bucket DRIFT_ALERT_STATE, mirrored in memory and
 * followed with a watch, so every gateway replica sees the same ones and they survive restarts;
 * and the webhook delivery claims in DRIFT_WEBHOOK_CLAIMS (a KV `create` succeeds for exactly one
 * replica per key).
 */
export class AlertStateStore {
  private readonly silenceMap = new Map<string, Silence>();
  private readonly ackMap = new Map<string, Acknowledgement>();
  private stopWatch: (() => void) | null = null;

  private constructor(
    private readonly state: KV,
    private readonly claims: KV,
  ) {}

  /** Opens the buckets (created by provisioning), loads what they hold and follows changes. */
  static async open(nc: NatsConnection, onError: (error: Error) => void = () => undefined): Promise<AlertStateStore> {
    const kvm = new Kvm(nc);
    const store = new AlertStateStore(await kvm.open(ALERT_STATE_BUCKET), await kvm.open(WEBHOOK_CLAIMS_BUCKET));
    // watch first, then load: a change between the two is applied twice, never missed
    const watcher = await store.state.watch({ include: KvWatchInclude.UpdatesOnly });
    store.stopWatch = () => watcher.stop();
    void (async () => {
      try {
        for await (const entry of watcher) store.apply(entry.key, entry.operation === 'PUT' ? entry.string() : null);
      } catch (error) {
        onError(error as Error);
      }
    })();
    for (const key of await (async () => {
      const keys: string[] = [];
      for await (const key of await store.state.keys()) keys.push(key);
      return keys;
    })()) {
      const entry = await store.state.get(key);
      if (entry !== null) store.apply(key, entry.operation === 'PUT' ? entry.string() : null);
    }
    return store;
  }

  private apply(key: string, value: string | null): void {
    try {
      if (key.startsWith('silence.')) {
        const id = key.slice('silence.'.length);
        if (value === null) this.silenceMap.delete(id);
        else this.silenceMap.set(id, JSON.parse(value) as Silence);
      } else if (key.startsWith('ack.')) {
        if (value === null) {
          for (const [episode] of this.ackMap) if (`ack.${hashed(episode)}` === key) this.ackMap.delete(episode);
        } else {
          const { episode, by, comment, at } = JSON.parse(value) as StoredAck;
          this.ackMap.set(episode, { by, comment, at });
        }
      }
    } catch {
      // a value not written by driftwatch: ignored
    }
  }

  silences(): Silence[] {
    return [...this.silenceMap.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  silence(id: string): Silence | undefined {
    return this.silenceMap.get(id);
  }

  async putSilence(silence: Silence): Promise<void> {
    await this.state.put(`silence.${silence.id}`, JSON.stringify(silence));
    this.silenceMap.set(silence.id, silence);
  }

  acknowledgement(episode: string): Acknowledgement | null {
    return this.ackMap.get(episode) ?? null;
  }

  async putAck(episode: string, ack: Acknowledgement): Promise<void> {
    const stored: StoredAck = { episode, ...ack };
    await this.state.put(`ack.${hashed(episode)}`, JSON.stringify(stored));
    this.ackMap.set(episode, ack);
  }

  /** Forgets an episode's acknowledgement (it resolved); true when there was one here. */
  async clearAck(episode: string): Promise<boolean> {
    const had = this.ackMap.delete(episode);
    if (had) await this.state.delete(`ack.${hashed(episode)}`);
    return had;
  }

  /** True for exactly one caller per (receiver, transition id) across replicas, within the claims' TTL. */
  async claim(receiver: string, transitionId: string): Promise<boolean> {
    try {
      await this.claims.create(`${receiver}.${hashed(transitionId)}`, transitionId);
      return true;
    } catch (error) {
      // "wrong last sequence": another replica (or an earlier run) claimed it
      if (/wrong last sequence|key exists/i.test((error as Error).message)) return false;
      throw error;
    }
  }

  stop(): void {
    this.stopWatch?.();
    this.stopWatch = null;
  }
}
