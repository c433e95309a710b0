/**
 * Cluster-wide admission of models and model versions, on the DRIFT_MODELS KV bucket.
 *
 * A model is decided once for the whole cluster: the first process to see it writes its record
 * (`m.<model>`, admitted or refused) with a KV `create`, so exactly one decision wins and every
 * partition of every worker applies that same decision. The cap is counted with slots: an admitted
 * model first takes one of `maxModels` slot keys (`ms.<i>`) with `create`, so two processes can
 * never admit more models than there are slots. Versions work the same way under their model
 * (`v.<model>.<hex version>`, slots `vs.<model>.<i>`, `maxVersionsPerModel` of them).
 *
 * Every process mirrors the bucket with a watch, so the hot path looks decisions up synchronously.
 * A record carries the last time any partition saw its model (`seen`): partitions touch the records
 * they use (a compare-and-set update) and a record not touched for `idleMs` is released by a sweep
 * (a compare-and-set delete, which loses to any touch in between), freeing its slot.
 *
 * Refusal records are kept too, so a refused model stays refused everywhere until it has been idle
 * for `idleMs` (never counted by one partition and refused by another); at most `maxRefusalRecords`
 * of them exist at once, beyond which a model is refused without a record (see the README).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import type { KV, KvEntry } from '@nats-io/kv';
import { MODELS_BUCKET, versionToken } from './subjects.ts';

export type AdmissionDecision = 'admitted' | 'refused';

/** What is stored under `m.<model>` / `v.<model>.<version>`. */
export interface AdmissionRecord {
  decision: AdmissionDecision;
  /** The slot index an admitted model or version holds; null for a refusal. */
  slot: number | null;
  /** When it was decided (epoch ms): tells a record from a later one under the same key. */
  decidedAt: number;
  /** Last time a partition saw an event of it (epoch ms, wall clock of the toucher). */
  seen: number;
}

export interface MirroredRecord {
  record: AdmissionRecord;
  revision: number;
}

interface SlotValue {
  owner: string;
  claimedAt: number;
}

export interface ModelRegistryOptions {
  maxModels: number;
  maxVersionsPerModel: number;
  /** A model or version not seen for this long is released. */
  idleMs: number;
  /** Refusal records kept at most at once (default max(1000, 10 × maxModels)). */
  maxRefusalRecords?: number;
  now?: () => number;
}

/** The outcome of resolving a model or version: the decision all processes share. */
export interface Resolution {
  decision: AdmissionDecision;
  /** This process wrote the decision (so it is the one that logs it). */
  decidedHere: boolean;
  /** False when refused without a record (too many refusal records). */
  recorded: boolean;
}

export const modelKey = (model: string): string => `m.${model}`;
export const versionKey = (model: string, version: string): string => `v.${model}.${versionToken(version)}`;
const modelSlotPrefix = 'ms.';
const versionSlotPrefix = (model: string): string => `vs.${model}.`;
/** A slot claimed but never named by a record (its claimer died in between) is freed after this. */
const ORPHAN_SLOT_MS = 30_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encode = (value: object): Uint8Array => encoder.encode(JSON.stringify(value));

function parseRecord(bytes: Uint8Array): AdmissionRecord | null {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as Partial<AdmissionRecord>;
    if ((value.decision !== 'admitted' && value.decision !== 'refused') || typeof value.seen !== 'number' || typeof value.decidedAt !== 'number') return null;
    return { decision: value.decision, slot: typeof value.slot === 'number' ? value.slot : null, decidedAt: value.decidedAt, seen: value.seen };
  } catch {
    return null;
  }
}

function parseSlot(bytes: Uint8Array): SlotValue | null {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as Partial<SlotValue>;
    return typeof value.owner === 'string' && typeof value.claimedAt === 'number' ? { owner: value.owner, claimedAt: value.claimedAt } : null;
  } catch {
    return null;
  }
}

export class ModelRegistry {
  private readonly records = new Map<string, MirroredRecord>();
  private readonly slots = new Map<string, { value: SlotValue; revision: number }>();
  private refusals = 0;
  private watcher: { stop(): void } | null = null;
  private closed = false;
  private readonly now: () => number;
  readonly maxRefusalRecords: number;

  private constructor(
    private readonly kv: KV,
    readonly options: ModelRegistryOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.maxRefusalRecords = options.maxRefusalRecords ?? Math.max(1000, 10 * options.maxModels);
  }

  /** Opens the bucket (provisioning creates it) and mirrors it; resolves once the mirror holds every existing record. */
  static async open(nc: NatsConnection, options: ModelRegistryOptions): Promise<ModelRegistry> {
    // provisioning created it (with the cluster's replicas): bind to it as it is
    const kv = await new Kvm(nc).open(MODELS_BUCKET);
    const registry = new ModelRegistry(kv, options);
    await registry.follow();
    return registry;
  }

  private async follow(): Promise<void> {
    const status = await this.kv.status();
    const watch = await this.kv.watch();
    this.watcher = watch;
    let caughtUp: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    if (status.values === 0) caughtUp();
    void (async () => {
      for await (const entry of watch) {
        this.applyEntry(entry);
        // delta: messages still pending for the watcher; 0 = every stored record is mirrored
        if (entry.delta === 0 || entry.isUpdate) caughtUp();
      }
    })()
      .catch(() => undefined)
      .then(() => this.refollow());
    await ready;
  }

  /**
   * The watch ended (its consumer lost with the server, say): watch again. Meanwhile decisions stay
   * right without it: a record not confirmed lately is touched (or fetched) before it is trusted.
   */
  private refollow(): void {
    if (this.closed) return;
    setTimeout(() => {
      if (this.closed) return;
      this.follow().catch(() => this.refollow());
    }, 1000);
  }

  private applyEntry(entry: KvEntry): void {
    const key = entry.key;
    const put = entry.operation === 'PUT';
    if (key.startsWith('m.') || key.startsWith('v.')) {
      const before = this.records.get(key);
      if (before !== undefined && before.revision > entry.revision) return;
      if (before?.record.decision === 'refused') this.refusals--;
      const record = put ? parseRecord(entry.value) : null;
      if (record === null) this.records.delete(key);
      else {
        this.records.set(key, { record, revision: entry.revision });
        if (record.decision === 'refused') this.refusals++;
      }
    } else if (key.startsWith('ms.') || key.startsWith('vs.')) {
      const before = this.slots.get(key);
      if (before !== undefined && before.revision > entry.revision) return;
      const value = put ? parseSlot(entry.value) : null;
      if (value === null) this.slots.delete(key);
      else this.slots.set(key, { value, revision: entry.revision });
    }
  }

  private forget(key: string): void {
    const before = this.records.get(key);
    if (before === undefined) return;
    if (before.record.decision === 'refused') this.refusals--;
    this.records.delete(key);
  }

  /** The mirrored record of a key (`modelKey` / `versionKey`), synchronously; undefined when none. */
  lookup(key: string): MirroredRecord | undefined {
    return this.records.get(key);
  }

  /** Admitted models and refusal records in the mirror (for metrics and tests). */
  get counts(): { admittedModels: number; refusals: number; records: number } {
    let admittedModels = 0;
    for (const [key, { record }] of this.records) if (key.startsWith('m.') && record.decision === 'admitted') admittedModels++;
    return { admittedModels, refusals: this.refusals, records: this.records.size };
  }

  /**
   * The decision for a model (version null) or a model's version, made here if nobody made it yet.
   * A version is asked only of an admitted model. Throws when NATS cannot be reached (the caller retries).
   */
  async resolve(model: string, version: string | null): Promise<Resolution> {
    const key = version === null ? modelKey(model) : versionKey(model, version);
    const existing = await this.fetch(key);
    if (existing !== null) return { decision: existing.record.decision, decidedHere: false, recorded: true };
    const [prefix, cap] = version === null ? [modelSlotPrefix, this.options.maxModels] : [versionSlotPrefix(model), this.options.maxVersionsPerModel];
    const owner = version === null ? model : `${model}.${versionToken(version)}`;
    const slot = await this.claimSlot(prefix, cap, owner);
    if (slot === null && this.refusals >= this.maxRefusalRecords) {
      return { decision: 'refused', decidedHere: true, recorded: false };
    }
    const now = this.now();
    const record: AdmissionRecord = { decision: slot === null ? 'refused' : 'admitted', slot: slot?.index ?? null, decidedAt: now, seen: now };
    try {
      const revision = await this.kv.create(key, encode(record));
      this.applyEntry({ key, revision, operation: 'PUT', value: encode(record) } as KvEntry);
      return { decision: record.decision, decidedHere: true, recorded: true };
    } catch (error) {
      if (slot !== null) await this.kv.delete(slot.key, { previousSeq: slot.revision }).catch(() => undefined);
      const theirs = await this.fetch(key);
      if (theirs === null) throw error;
      return { decision: theirs.record.decision, decidedHere: false, recorded: true };
    }
  }

  /** Reads a record from the server (and into the mirror); null when there is none. */
  private async fetch(key: string): Promise<MirroredRecord | null> {
    const entry = await this.kv.get(key);
    if (entry === null) {
      // purged (a released record whose marker was purged): the mirror must not keep it
      this.forget(key);
      return null;
    }
    this.applyEntry(entry);
    if (entry.operation !== 'PUT') return null;
    const record = parseRecord(entry.value);
    return record === null ? null : { record, revision: entry.revision };
  }

  /** Takes a free slot with `create` (first wins); null when every slot is taken. */
  private async claimSlot(prefix: string, cap: number, owner: string): Promise<{ key: string; index: number; revision: number } | null> {
    const free: number[] = [];
    for (let i = 0; i < cap; i++) if (!this.slots.has(`${prefix}${i}`)) free.push(i);
    // a random order: processes deciding different models at once rarely collide
    for (let i = free.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [free[i], free[j]] = [free[j], free[i]];
    }
    for (const index of free) {
      const key = `${prefix}${index}`;
      const value: SlotValue = { owner, claimedAt: this.now() };
      try {
        const revision = await this.kv.create(key, encode(value));
        this.slots.set(key, { value, revision });
        return { key, index, revision };
      } catch (error) {
        const entry = await this.kv.get(key);
        if (entry === null || entry.operation !== 'PUT') throw error;
        this.applyEntry(entry);
      }
    }
    return null;
  }

  /**
   * Records that a model (or version) was seen now: a compare-and-set update of its record, so a
   * release racing with it cannot win. False when the record is gone or was replaced by another
   * decision (the caller asks again).
   */
  async touch(key: string): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const mirrored = this.records.get(key) ?? (await this.fetch(key)) ?? undefined;
      if (mirrored === undefined) return false;
      const record: AdmissionRecord = { ...mirrored.record, seen: Math.max(mirrored.record.seen, this.now()) };
      try {
        const revision = await this.kv.update(key, encode(record), mirrored.revision);
        this.applyEntry({ key, revision, operation: 'PUT', value: encode(record) } as KvEntry);
        return true;
      } catch {
        // another process touched it (a newer revision) or it was released: look again
        const fresh = await this.fetch(key);
        if (fresh === null || fresh.record.decidedAt !== mirrored.record.decidedAt) return false;
      }
    }
    return true;
  }

  /**
   * Releases records not seen for `idleMs` (a model's versions before the model) and their slots,
   * and frees slots no record names. Every delete is compare-and-set: a touch in between wins.
   * Returns the released keys.
   */
  async sweep(): Promise<string[]> {
    const now = this.now();
    const released: string[] = [];
    const idle = [...this.records].filter(([, { record }]) => now - record.seen > this.options.idleMs);
    // versions first, so a model is never released while a version record of it remains
    idle.sort(([a], [b]) => (a.startsWith('v.') === b.startsWith('v.') ? 0 : a.startsWith('v.') ? -1 : 1));
    const modelOf = (versionRecord: string) => versionRecord.slice(2, versionRecord.indexOf('.', 2));
    const versionRecords = new Map<string, number>();
    for (const key of this.records.keys()) if (key.startsWith('v.')) versionRecords.set(modelOf(key), (versionRecords.get(modelOf(key)) ?? 0) + 1);
    for (const [key, { record, revision }] of idle) {
      // a model whose versions could not all be released (one was touched) stays
      if (key.startsWith('m.') && (versionRecords.get(key.slice(2)) ?? 0) > 0) continue;
      try {
        await this.kv.delete(key, { previousSeq: revision });
      } catch {
        continue;
      }
      this.applyEntry({ key, revision: revision + 1, operation: 'DEL', value: new Uint8Array() } as unknown as KvEntry);
      released.push(key);
      if (key.startsWith('v.')) versionRecords.set(modelOf(key), (versionRecords.get(modelOf(key)) ?? 1) - 1);
      if (record.slot !== null) await this.freeSlot(this.slotKeyOf(key, record.slot));
    }
    // slots whose claimer never wrote its record (it crashed, or lost the race and could not free it)
    for (const [slotKey, { value }] of [...this.slots]) {
      if (now - value.claimedAt < ORPHAN_SLOT_MS) continue;
      const recordKey = slotKey.startsWith('ms.') ? modelKey(value.owner) : `v.${value.owner}`;
      const named = this.records.get(recordKey);
      if (named === undefined || named.record.slot === null || this.slotKeyOf(recordKey, named.record.slot) !== slotKey) await this.freeSlot(slotKey);
    }
    // the delete markers of released keys would otherwise pile up with every name ever seen
    const purgeable = this.kv as KV & { purgeDeletes?(olderMillis?: number): Promise<unknown> };
    if (released.length > 0) await purgeable.purgeDeletes?.(this.options.idleMs).catch(() => undefined);
    return released;
  }

  private slotKeyOf(recordKey: string, slot: number): string {
    if (recordKey.startsWith('m.')) return `${modelSlotPrefix}${slot}`;
    const model = recordKey.slice(2, recordKey.indexOf('.', 2));
    return `${versionSlotPrefix(model)}${slot}`;
  }

  private async freeSlot(slotKey: string): Promise<void> {
    const slot = this.slots.get(slotKey);
    if (slot === undefined) return;
    await this.kv.delete(slotKey, { previousSeq: slot.revision }).catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    this.watcher?.stop();
    this.watcher = null;
  }
}
