/**
 * Object store hashing: what writing and reading a checkpoint-sized object costs with the NATS
 * client's default pure-JS SHA-256 and with driftwatch's object stores (`objectStores`,
 * src/cluster/object-store.ts: node:crypto's SHA-256, the same digests):
 *
 *   npm run bench -- object-store [--mb 30] [--rounds 2]
 *
 * A private nats-server (loopback, temp storage); each round puts the object and reads it back
 * (getBlob: the digest is checked on the way) once with each hashing, alternated. Process CPU ms
 * per put and per read, best of the rounds; the raw limit measured in the same run is node:crypto
 * hashing the same bytes alone (the least any put or read of them costs for its digest).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { connect } from '@nats-io/transport-node';
import { Objm, setSha256Backend } from '@nats-io/obj';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { objectStores } from '../src/cluster/object-store.ts';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`bench object-store: --${name} needs a positive integer, got '${process.argv[at + 1] ?? ''}'`);
  return value;
}

async function cpuMs(run: () => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  await run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const mb = arg('mb', 30);
const rounds = arg('rounds', 2);
const data = new Uint8Array(mb << 20).map((_, i) => (i * 2654435761) >>> 24);
console.log(`object-store bench: ${mb} MB object, ${rounds} rounds, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const server = await startNatsServer();
const nc = await connect({ servers: server.url });
try {
  const raw = await cpuMs(async () => createHash('sha256').update(data).digest());
  const best = { js: { put: Infinity, read: Infinity }, native: { put: Infinity, read: Infinity } };
  const js = await new Objm(nc).create('BENCH_JS', { max_bytes: 4 * data.length });
  const native = await objectStores(nc).create('BENCH_NATIVE', { max_bytes: 4 * data.length });
  for (let round = 0; round < rounds; round++) {
    for (const [kind, store] of [['js', js], ['native', native]] as const) {
      setSha256Backend(kind); // the client's choice is per isolate: this bench alternates it
      const put = await cpuMs(() => store.putBlob({ name: 'checkpoint' }, data));
      let read: Uint8Array | null = null;
      const readMs = await cpuMs(async () => (read = await store.getBlob('checkpoint')));
      if ((read as Uint8Array | null)?.length !== data.length) throw new Error(`${kind}: read back ${(read as Uint8Array | null)?.length ?? 0} bytes of ${data.length}`);
      best[kind].put = Math.min(best[kind].put, put);
      best[kind].read = Math.min(best[kind].read, readMs);
      console.log(`  round ${round + 1} ${kind.padEnd(6)}: put ${put.toFixed(0)} ms, read ${readMs.toFixed(0)} ms CPU`);
    }
  }
  console.log(`raw         : node:crypto SHA-256 of the ${mb} MB alone ${raw.toFixed(0)} ms CPU`);
  console.log(`client JS   : put ${best.js.put.toFixed(0)} ms (×${(best.js.put / raw).toFixed(1)} raw), read ${best.js.read.toFixed(0)} ms (×${(best.js.read / raw).toFixed(1)} raw)`);
  console.log(`driftwatch  : put ${best.native.put.toFixed(0)} ms (×${(best.native.put / raw).toFixed(1)} raw), read ${best.native.read.toFixed(0)} ms (×${(best.native.read / raw).toFixed(1)} raw)`);
  console.log(JSON.stringify({ name: 'object-store', mb, rounds, rawHashMs: raw, js: best.js, native: best.native, cores: os.cpus().length }));
} finally {
  setSha256Backend('native');
  await nc.close();
  await server.stop();
}
