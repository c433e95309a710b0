import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Objm, getSha256Backend, setSha256Backend } from '@nats-io/obj';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { objectStores } from '../../src/cluster/object-store.ts';

/** Whether `read` (getBlob's answer: it fails when the object's digest does not match) holds `data`. */
function same(read: Uint8Array | null, data: Uint8Array): boolean {
  return read !== null && Buffer.from(read).equals(Buffer.from(data));
}

describe('objectStores (a real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  // a checkpoint-sized object, not one repeated byte (the chunks differ)
  const data = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 2654435761) >>> 24);
  const digest = `SHA-256=${createHash('sha256').update(data).digest('base64url')}=`;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    setSha256Backend('js'); // the client's default, for whatever else this isolate runs
    await nc?.close();
    await server?.stop();
  });

  it("hashes with node's SHA-256 and stores the digest the object store defines", async () => {
    const store = await objectStores(nc).create('OS_NATIVE');
    expect(getSha256Backend()).toBe('native');
    const info = await store.putBlob({ name: 'checkpoint' }, data);
    expect(info.digest).toBe(digest);
    expect(same(await store.getBlob('checkpoint'), data)).toBe(true);
  });

  it('reads objects written with the client’s JS hashing (an older worker’s checkpoints), and they read its own', async () => {
    setSha256Backend('js');
    const old = await new Objm(nc).create('OS_MIXED');
    await old.putBlob({ name: 'written-by-js' }, data);
    const store = await objectStores(nc).open('OS_MIXED');
    expect(same(await store.getBlob('written-by-js'), data)).toBe(true);
    await store.putBlob({ name: 'written-natively' }, data);
    setSha256Backend('js');
    expect(same(await old.getBlob('written-natively'), data)).toBe(true);
  });
});
