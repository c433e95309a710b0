import { Objm, setSha256Backend } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/nats-core';

/**
 * The object stores of a connection, hashing with Node's SHA-256.
 *
 * The NATS client hashes every object it puts and gets (the object store's SHA-256 digest, checked
 * on read) with a pure-JS SHA-256 by default, which works in browsers: ~16 ms per MB here, against
 * 0.7 ms with node:crypto (the same digests), and a partition's checkpoint of 500k pending joins
 * is ~30 MB, read back whole at every restore. The client keeps that choice per isolate (module
 * state), so every isolate that opens an object store comes through here: the worker's partition
 * threads are isolates of their own.
 */
export function objectStores(nc: NatsConnection): Objm {
  setSha256Backend('native');
  return new Objm(nc);
}
