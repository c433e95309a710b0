import type { NatsConnection } from '@nats-io/nats-core';
import { objectStores } from '../cluster/object-store.ts';
import type { ObjectStore } from '@nats-io/obj';
import { BASELINES_BUCKET } from '../cluster/subjects.ts';
import { profileFromBytes, profileToBytes } from './profile.ts';
import type { ReferenceProfile } from './profile.ts';

/**
 * Reference profiles in the NATS object store, one object per profile id. The active profile of a
 * model (and version) is the newest one for it; older ones stay listed until deleted.
 */
export class ReferenceStore {
  private constructor(private readonly store: ObjectStore) {}

  static async open(nc: NatsConnection): Promise<ReferenceStore> {
    return new ReferenceStore(await objectStores(nc).open(BASELINES_BUCKET));
  }

  async put(profile: ReferenceProfile): Promise<void> {
    await this.store.putBlob({ name: profile.id, description: `${profile.model}/${profile.version ?? '*'}` }, profileToBytes(profile));
  }

  async get(id: string): Promise<ReferenceProfile | null> {
    const bytes = await this.store.getBlob(id);
    return bytes === null ? null : profileFromBytes(bytes);
  }

  async delete(id: string): Promise<boolean> {
    const info = await this.store.info(id);
    if (info === null || info.deleted) return false;
    await this.store.delete(id);
    return true;
  }

  /**
   * Follows changes made by any process (another gateway replica, the CLI through another
   * gateway): `onPut` for a new or replaced profile, `onDelete` for a deleted one. Returns a stop function.
   */
  async follow(onPut: (profile: ReferenceProfile) => void, onDelete: (id: string) => void, onError: (error: Error) => void): Promise<() => void> {
    const watcher = await this.store.watch({ includeHistory: false });
    void (async () => {
      for await (const info of watcher) {
        if (info === null) continue;
        try {
          if (info.deleted) onDelete(info.name);
          else {
            const profile = await this.get(info.name);
            if (profile !== null) onPut(profile);
          }
        } catch (error) {
          onError(error as Error);
        }
      }
    })();
    return () => watcher.stop();
  }

  /**
   * The stored profiles of these models. Only the objects' metadata is listed (each names its
   * model in its description, `put` above); the profiles themselves are read for the models asked.
   */
  async profilesOf(models: ReadonlySet<string>): Promise<ReferenceProfile[]> {
    const out: ReferenceProfile[] = [];
    for (const info of await this.store.list()) {
      if (info.deleted || !describesOneOf(info.description, models)) continue;
      const profile = await this.get(info.name);
      if (profile !== null && models.has(profile.model)) out.push(profile);
    }
    return out;
  }

  async list(): Promise<ReferenceProfile[]> {
    const infos = await this.store.list();
    const out: ReferenceProfile[] = [];
    for (const info of infos) {
      if (info.deleted) continue;
      const profile = await this.get(info.name);
      if (profile !== null) out.push(profile);
    }
    return out;
  }
}

/**
 * Whether an object's description (`<model>/<version or *>`) may name one of the models: a model
 * name may itself hold a '/', so every split is tried. No description (not written by `put`): maybe.
 */
function describesOneOf(description: string | undefined, models: ReadonlySet<string>): boolean {
  if (description === undefined || description === '') return true;
  for (let slash = description.indexOf('/'); slash >= 0; slash = description.indexOf('/', slash + 1)) {
    if (models.has(description.slice(0, slash))) return true;
  }
  return false;
}

/**
 * Deterministic profile id: model, version, source and a time. For profiles every gateway replica
 * derives alike (the automatic capture, a rolling reference), so they share one name.
 */
export function newProfileId(model: string, version: string | null, source: string, at: number): string {
  return `${model}.${version ?? 'all'}.${source}.${at}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Digits of a millisecond time in an id: up to year 33658, so ids of any time sort as text. */
const TIME_DIGITS = 15;

/**
 * Ids of uploaded and captured profiles: `<model>.<version|all>.<source>.<time>-<seq><random>`, with
 * the time zero-padded to 15 digits, a per-generator sequence (base 36, 4 characters) and 6 random
 * base-36 characters. Two uploads in the same millisecond (on one gateway or on two replicas) get
 * different ids, so neither overwrites the other in the object store; and ids sort as text in
 * creation order (on one gateway; across replicas, to the millisecond).
 */
export class ProfileIdGenerator {
  private lastMs = -1;
  private sequence = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  next(model: string, version: string | null, source: string): { id: string; at: number } {
    let at = Math.floor(this.now());
    // never behind the last id, even if the clock steps back: the order stays the creation order
    if (at <= this.lastMs) {
      at = this.lastMs;
      this.sequence++;
    } else {
      this.lastMs = at;
      this.sequence = 0;
    }
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += Math.floor(this.random() * 36).toString(36);
    const stamp = `${String(at).padStart(TIME_DIGITS, '0')}-${this.sequence.toString(36).padStart(4, '0')}${suffix}`;
    return { id: `${model}.${version ?? 'all'}.${source}.${stamp}`.replace(/[^A-Za-z0-9_.-]/g, '_'), at };
  }
}
