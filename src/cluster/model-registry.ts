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
 * of them exist at once. Beyond that a model is refused without a record of its own, but not
 * without a trace: its key goes into a shared Bloom filter (the `overflow.<shard>` keys, two generations of
 * `idleMs` each, re-added while it keeps being refused), and no process admits a key the filter
 * may hold. A filter alone would not do: a process that found a free slot a moment ago could still
 * write its admission after another one refused the same model without a record. So every new
 * decision is first announced in its key's `overflow.<shard>` (`deciding`, a compare-and-set update), a process that
 * finds another one deciding the same key waits for its answer, and the refusal without a record is
 * written into the filter in the same update that ends its announcement: the two cannot interleave.
 * A false positive of the filter only refuses a model in full that a slot could have admitted.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
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
/**
 * The shared state of decisions in flight and of refusals without a record, sharded by key so that
 * processes deciding different models rarely contend for one compare-and-set.
 */
const OVERFLOW_SHARDS = 64;
export const overflowKey = (key: string): string => `overflow.${hashOf(key, 0) % OVERFLOW_SHARDS}`;
/**
 * An announced decision older than this is presumed dead (its process crashed between announcing
 * and deciding): another process may then decide the key. Far above any KV round trip.
 */
export const DECIDING_MS = 60_000;
/** Bloom filter (per shard) of keys refused without a record: bits per generation and hashes per key. */
const FILTER_BITS = 4096;
const FILTER_HASHES = 4;
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

/** What is stored under `overflow.<shard>`. */
export interface OverflowState {
  /** Keys being decided now: who announced it and when (epoch ms). */
  deciding: Record<string, { by: string; at: number }>;
  /** Start of the current filter generation (epoch ms). */
  since: number;
  /** Keys refused without a record: this generation and the one before (base64 bits; null: empty). */
  current: string | null;
  previous: string | null;
}

/** FNV-1a, seeded. */
function hashOf(key: string, seed: number): number {
  let hash = 0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1);
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function filterPositions(key: string): number[] {
  const positions: number[] = [];
  for (let seed = 1; seed <= FILTER_HASHES; seed++) positions.push(hashOf(key, seed) % FILTER_BITS);
  return positions;
}

export function filterHas(bits: string | null, key: string): boolean {
  if (bits === null) return false;
  const bytes = Buffer.from(bits, 'base64');
  return filterPositions(key).every((p) => (bytes[p >> 3] & (1 << (p & 7))) !== 0);
}

export function filterAdd(bits: string | null, key: string): string {
  const bytes = bits === null ? Buffer.alloc(FILTER_BITS / 8) : Buffer.from(bits, 'base64');
  for (const p of filterPositions(key)) bytes[p >> 3] |= 1 << (p & 7);
  return bytes.toString('base64');
}

/** The state with its generations turned and dead announcements dropped, as of `now`. */
export function currentOverflow(state: OverflowState | null, now: number, idleMs: number): OverflowState {
  if (state === null) return { deciding: {}, since: now, current: null, previous: null };
  let { since, current, previous } = state;
  if (now - since >= 2 * idleMs) [since, current, previous] = [now, null, null];
  else if (now - since >= idleMs) [since, current, previous] = [now, null, current];
  const deciding: OverflowState['deciding'] = {};
  for (const [key, claim] of Object.entries(state.deciding)) if (now - claim.at < DECIDING_MS) deciding[key] = claim;
  return { deciding, since, current, previous };
}

function parseOverflow(bytes: Uint8Array): OverflowState | null {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as Partial<OverflowState>;
    if (typeof value.since !== 'number' || typeof value.deciding !== 'object' || value.deciding === null) return null;
    return { deciding: value.deciding, since: value.since, current: value.current ?? null, previous: value.previous ?? null };
  } catch {
    return null;
  }
}

/**
 * Purges the bucket's delete markers older than `olderMs`, each with what came before it on its
 * key, but never a value written after it. The client's purgeDeletes purges a marker's whole
 * subject: a key created again between its read of the markers and the purge (a slot claimed by
 * a newcomer, a returning model's record) vanished with it, with no marker for any mirror to see,
 * so the claim was lost on the server and stayed taken in every mirror.
 */
async function purgeDeleteMarkers(kv: KV, jsm: JetStreamManager, olderMs: number): Promise<void> {
  await purgeMarkersRead(jsm, await deleteMarkersOf(kv), Date.now() - olderMs);
}

/** The bucket's delete (and purge) markers, as its history holds them now. */
export async function deleteMarkersOf(kv: KV): Promise<KvEntry[]> {
  const history = await kv.history({ key: '>' });
  const markers: KvEntry[] = [];
  try {
    for await (const entry of history) if (entry.operation !== 'PUT') markers.push(entry);
  } finally {
    history.stop();
  }
  return markers;
}

/** Purges the markers read (those created before `before`), each up to and including itself on its own subject. */
export async function purgeMarkersRead(jsm: JetStreamManager, markers: readonly KvEntry[], before: number): Promise<void> {
  const old = markers.filter((marker) => marker.created.getTime() < before);
  // its stream sequence is its revision: `seq` purges below it + 1, a later value stays
  await Promise.all(old.map((marker) => jsm.streams.purge(`KV_${MODELS_BUCKET}`, { filter: `$KV.${MODELS_BUCKET}.${marker.key}`, seq: marker.revision + 1 })));
}

export class ModelRegistry {
  private readonly records = new Map<string, MirroredRecord>();
  private readonly slots = new Map<string, { value: SlotValue; revision: number }>();
  /**
   * Slots of released records whose delete failed (a timeout on a loaded server): tried again at
   * every sweep. Left to the orphan check they stayed taken for ORPHAN_SLOT_MS, and every model that
   * came meanwhile was refused for want of a slot that nothing held. Keyed by slot, with the
   * revision of the claim that was to be freed: a slot claimed again since is someone else's.
   */
  private readonly unfreedSlots = new Map<string, number>();
  private refusals = 0;
  private watcher: { stop(): void } | null = null;
  private closed = false;
  private readonly now: () => number;
  readonly maxRefusalRecords: number;

  private constructor(
    private readonly kv: KV,
    readonly options: ModelRegistryOptions,
    /** Purges delete markers older than its argument (none: markers are left). */
    private readonly purgeMarkers: ((olderMs: number) => Promise<void>) | null,
  ) {
    this.now = options.now ?? Date.now;
    this.maxRefusalRecords = options.maxRefusalRecords ?? Math.max(1000, 10 * options.maxModels);
  }

  /** Opens the bucket (provisioning creates it) and mirrors it; resolves once the mirror holds every existing record. */
  static async open(nc: NatsConnection, options: ModelRegistryOptions): Promise<ModelRegistry> {
    // provisioning created it (with the cluster's replicas): bind to it as it is
    const kv = await new Kvm(nc).open(MODELS_BUCKET);
    const jsm = await jetstreamManager(nc);
    return ModelRegistry.openOn(kv, options, (olderMs) => purgeDeleteMarkers(kv, jsm, olderMs));
  }

  /**
   * The same on a bucket already opened (tests give a KV with controlled latency); `purgeMarkers`
   * purges delete markers older than its argument (none: markers are left).
   */
  static async openOn(kv: KV, options: ModelRegistryOptions, purgeMarkers?: (olderMs: number) => Promise<void>): Promise<ModelRegistry> {
    const registry = new ModelRegistry(kv, options, purgeMarkers ?? null);
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
    for (;;) {
      const existing = await this.fetch(key);
      if (existing !== null) return { decision: existing.record.decision, decidedHere: false, recorded: true };
      // announce the decision, unless the key was refused without a record or is being decided elsewhere
      // one name per attempt: two asks in one process wait for each other like two processes
      const announcement = { by: Math.random().toString(36).slice(2, 12), at: this.now() };
      let answer = 'decide' as 'refused' | 'busy' | 'decide';
      await this.changeOverflow(key, (state) => {
        if (filterHas(state.current, key) || filterHas(state.previous, key)) {
          answer = 'refused';
          // still refused: it stays in the filter for as long as it keeps being refused
          return filterHas(state.current, key) ? null : { ...state, current: filterAdd(state.current, key) };
        }
        const other = state.deciding[key];
        if (other !== undefined) {
          answer = 'busy';
          return null;
        }
        answer = 'decide';
        return { ...state, deciding: { ...state.deciding, [key]: announcement } };
      });
      // another process is deciding it: its record (or its refusal into the filter) comes shortly
      if (answer === 'busy') {
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
        continue;
      }
      if (answer === 'refused') return { decision: 'refused', decidedHere: false, recorded: false };
      try {
        return await this.decide(key, model, version, announcement.by);
      } finally {
        // the decision is written (or failed): end the announcement, in the background (whoever
        // reads it meanwhile looks for the record again and finds it)
        void this.changeOverflow(key, (state) => {
          if (state.deciding[key]?.by !== announcement.by) return null;
          const deciding = { ...state.deciding };
          delete deciding[key];
          return { ...state, deciding };
        }).catch(() => undefined);
      }
    }
  }

  /** Decides a key nobody else is deciding (announced in its overflow shard). */
  private async decide(key: string, model: string, version: string | null, announced: string): Promise<Resolution> {
    // decided between the first look and the announcement (by a process that announced before us)
    const existing = await this.fetch(key);
    if (existing !== null) return { decision: existing.record.decision, decidedHere: false, recorded: true };
    const [prefix, cap] = version === null ? [modelSlotPrefix, this.options.maxModels] : [versionSlotPrefix(model), this.options.maxVersionsPerModel];
    const owner = version === null ? model : `${model}.${versionToken(version)}`;
    const slot = await this.claimSlot(prefix, cap, owner);
    if (slot === null && this.refusals >= this.maxRefusalRecords) {
      // refused without a record of its own: into the filter, in the write that ends the announcement
      await this.changeOverflow(key, (state) => {
        const deciding = { ...state.deciding };
        if (deciding[key]?.by === announced) delete deciding[key];
        return { ...state, deciding, current: filterAdd(state.current, key) };
      });
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

  /**
   * Applies `change` to the `overflow` state with compare-and-set, reading it afresh on a conflict;
   * `change` returns null when nothing needs writing. Returns the state in force afterwards.
   */
  private async changeOverflow(key: string, change: (state: OverflowState) => OverflowState | null): Promise<OverflowState> {
    const shard = overflowKey(key);
    for (let attempt = 0; attempt < 100; attempt++) {
      const entry = await this.kv.get(shard);
      const live = entry !== null && entry.operation === 'PUT';
      const stored = live ? parseOverflow(entry.value) : null;
      const state = currentOverflow(stored, this.now(), this.options.idleMs);
      const next = change(state);
      if (next === null) return state;
      try {
        if (entry === null) await this.kv.create(shard, encode(next));
        else await this.kv.update(shard, encode(next), entry.revision);
        return next;
      } catch {
        // another process changed it in between: read again
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * Math.min(attempt + 1, 10)));
      }
    }
    throw new Error(`the model registry's '${shard}' key stayed contended`);
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
        // freed again in between: another slot will do (or none, which is a decision too)
        if (entry === null || entry.operation !== 'PUT') {
          if (entry === null) throw error;
          this.applyEntry(entry);
          continue;
        }
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
    for (const [slotKey, revision] of [...this.unfreedSlots]) {
      // freed meanwhile (the watch saw the delete that timed out land after all, and the slot may
      // have been claimed again since: not ours to free), or freed now
      if (this.slots.get(slotKey)?.revision !== revision || (await this.freeSlot(slotKey))) this.unfreedSlots.delete(slotKey);
    }
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
        // touched meanwhile (a newer revision), or gone without this mirror hearing of it: its delete
        // marker purged before the watch delivered it (a watch behind on a loaded process, or being
        // made again). Read afresh, or the mirror kept the record, and its slot, for good
        await this.fetch(key).catch(() => undefined);
        continue;
      }
      this.applyEntry({ key, revision: revision + 1, operation: 'DEL', value: new Uint8Array() } as unknown as KvEntry);
      released.push(key);
      if (key.startsWith('v.')) versionRecords.set(modelOf(key), (versionRecords.get(modelOf(key)) ?? 1) - 1);
      if (record.slot !== null) {
        const slotKey = this.slotKeyOf(key, record.slot);
        const revision = this.slots.get(slotKey)?.revision;
        if (!(await this.freeSlot(slotKey)) && revision !== undefined) this.unfreedSlots.set(slotKey, revision);
      }
    }
    // slots whose claimer never wrote its record (it crashed, or lost the race and could not free it)
    for (const [slotKey, { value }] of [...this.slots]) {
      if (now - value.claimedAt < ORPHAN_SLOT_MS) continue;
      const recordKey = slotKey.startsWith('ms.') ? modelKey(value.owner) : `v.${value.owner}`;
      const names = (named: MirroredRecord | null | undefined): boolean =>
        named !== undefined && named !== null && named.record.slot !== null && this.slotKeyOf(recordKey, named.record.slot) === slotKey;
      if (names(this.records.get(recordKey))) continue;
      // the mirror may lag behind the claimer's record (a loaded process): ask the server before freeing
      let fresh: MirroredRecord | null;
      try {
        fresh = await this.fetch(recordKey);
      } catch {
        continue;
      }
      if (!names(fresh)) await this.freeSlot(slotKey);
    }
    // the delete markers of released keys would otherwise pile up with every name ever seen
    if (released.length > 0 && this.purgeMarkers !== null) await this.purgeMarkers(this.options.idleMs).catch(() => undefined);
    return released;
  }

  private slotKeyOf(recordKey: string, slot: number): string {
    if (recordKey.startsWith('m.')) return `${modelSlotPrefix}${slot}`;
    const model = recordKey.slice(2, recordKey.indexOf('.', 2));
    return `${versionSlotPrefix(model)}${slot}`;
  }

  /** Deletes a slot (compare-and-set on the mirror's revision); false while the claim it deleted is still there (the delete failed). */
  private async freeSlot(slotKey: string): Promise<boolean> {
    const slot = this.slots.get(slotKey);
    if (slot === undefined) return true;
    try {
      await this.kv.delete(slotKey, { previousSeq: slot.revision });
    } catch {
      // a timeout, or the slot changed or went without this mirror hearing of it (see sweep): as the
      // bucket has it now. A slot the mirror kept after its delete marker was purged counted as taken
      // for good, and a process whose mirror held every slot so refused every new model
      let entry: KvEntry | null;
      try {
        entry = await this.kv.get(slotKey);
      } catch {
        return false;
      }
      if (entry === null) this.slots.delete(slotKey);
      else this.applyEntry(entry);
      // still this claim (the delete timed out): false, to be tried again; else no longer ours to free
      return entry === null || entry.operation !== 'PUT' || entry.revision !== slot.revision;
    }
    // as the watch will: the mirror must not keep a freed slot taken (this process would refuse for want of it)
    this.applyEntry({ key: slotKey, revision: slot.revision + 1, operation: 'DEL', value: new Uint8Array() } as unknown as KvEntry);
    return true;
  }

  close(): void {
    this.closed = true;
    this.watcher?.stop();
    this.watcher = null;
  }
}
