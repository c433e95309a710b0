import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '@nats-io/nkeys';
import { connectNats } from '../../src/cluster/connect.ts';
import { findNatsServerBinary, pickFreePort, spawnNatsServer, stopNatsProcess } from '../../src/cluster/nats-process.ts';
import type { SpawnedNatsServer } from '../../src/cluster/nats-process.ts';

/** Retries a connection until the server is up (the server needs a moment to listen). */
async function connectWhenUp<T>(connect: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connect();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('NATS authentication with nkeys and TLS', () => {
  let dir: string;
  const servers: SpawnedNatsServer[] = [];

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'driftwatch-secure-'));
  });

  afterAll(async () => {
    for (const server of servers) await stopNatsProcess(server).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects with an nkey seed file (NATS_NKEY_SEED) and is refused with another key', async () => {
    const user = createUser();
    const seedFile = path.join(dir, 'user.nk');
    writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()));
    const other = createUser();
    const otherFile = path.join(dir, 'other.nk');
    writeFileSync(otherFile, new TextDecoder().decode(other.getSeed()));
    const conf = path.join(dir, 'nkey.conf');
    writeFileSync(conf, `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
    const port = await pickFreePort();
    servers.push(spawnNatsServer(findNatsServerBinary(), ['-c', conf, '-a', '127.0.0.1', '-p', String(port)]));
    const url = `nats://127.0.0.1:${port}`;
    const nc = await connectWhenUp(() => connectNats({ url, nkeySeedFile: seedFile }));
    const sub = nc.subscribe('echo', { callback: (_err, msg) => void msg.respond(msg.data) });
    expect((await nc.request('echo', 'ping', { timeout: 2000 })).string()).toBe('ping');
    sub.unsubscribe();
    await nc.close();
    await expect(connectNats({ url, nkeySeedFile: otherFile })).rejects.toThrow(/authorization violation/i);
  });

  it('connects over TLS with the CA given (NATS_TLS_CA) and refuses a server it cannot verify', async () => {
    const key = path.join(dir, 'server-key.pem');
    const cert = path.join(dir, 'server.pem');
    const caKey = path.join(dir, 'ca-key.pem');
    const ca = path.join(dir, 'ca.pem');
    const ext = path.join(dir, 'ext.cnf');
    const csr = path.join(dir, 'server.csr');
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=driftwatch test CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1');
    writeFileSync(ext, 'subjectAltName = IP:127.0.0.1, DNS:localhost\n');
    openssl('x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext);
    const port = await pickFreePort();
    servers.push(spawnNatsServer(findNatsServerBinary(), ['-a', '127.0.0.1', '-p', String(port), '--tls', '--tlscert', cert, '--tlskey', key]));
    const url = `tls://127.0.0.1:${port}`;
    const nc = await connectWhenUp(() => connectNats({ url, tls: { caFile: ca } }));
    const sub = nc.subscribe('echo', { callback: (_err, msg) => void msg.respond(msg.data) });
    expect((await nc.request('echo', 'ping', { timeout: 2000 })).string()).toBe('ping');
    sub.unsubscribe();
    await nc.close();
    // without the CA the self-signed chain cannot be verified
    await expect(connectNats({ url, timeoutMs: 2000 })).rejects.toThrow();
  });
});
