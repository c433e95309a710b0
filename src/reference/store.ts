import type { NatsConnection } from '@nats-io/nats-core';
import { Objm } from '@nats-io/obj';
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
    return new ReferenceStore(await new Objm(nc).open(BASELINES_BUCKET));
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

/** Profile id: model, version and creation time, readable and unique enough per model. */
export function newProfileId(model: string, version: string | null, source: string, at: number): string {
  return `${model}.${version ?? 'all'}.${source}.${at}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}
