import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.ts';
import { buildConnectionOptions, connectNats, NatsConfigError } from '../../src/cluster/connect.ts';

describe('connectNats against a token-protected server', () => {
  let srv: NatsServerHandle;
  beforeAll(async () => {
    srv = await startNatsServer({ args: ['--auth', 's3cret-token'], auth: { token: 's3cret-token' } });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('connects with the token and round-trips a request', async () => {
    const nc = await connectNats({ url: srv.url, token: 's3cret-token', name: 'driftwatch-test' });
    try {
      const sub = nc.subscribe('echo', { callback: (_err, msg) => void msg.respond(msg.data) });
      const reply = await nc.request('echo', 'ping', { timeout: 2_000 });
      expect(reply.string()).toBe('ping');
      sub.unsubscribe();
    } finally {
      await nc.close();
    }
  });

  it('rejects a wrong token with the servers tried and a hint', async () => {
    const err = await connectNats({ url: srv.url, token: 'wrong' }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(new RegExp(`^could not connect to NATS at ${srv.url}: .*Authorization Violation`, 'i'));
    expect((err as Error).message).toContain('check NATS_TOKEN');
  });

  it('reconnects after the server restarts (same port, same storage)', async () => {
    const nc = await connectNats({ url: srv.url, token: 's3cret-token', reconnectTimeWaitMs: 50 });
    try {
      const reconnected = (async () => {
        for await (const s of nc.status()) if (s.type === 'reconnect') return true;
        return false;
      })();
      await srv.restart({ signal: 'SIGKILL' });
      expect(await reconnected).toBe(true);
      const reply = nc.subscribe('after.restart', { max: 1 });
      nc.publish('after.restart', 'x');
      for await (const m of reply) expect(m.string()).toBe('x');
    } finally {
      await nc.close();
    }
  });
});

describe('buildConnectionOptions', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'driftwatch-connect-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('splits a comma-separated URL list and reconnects forever', () => {
    const co = buildConnectionOptions({ url: 'nats://nats1:4222, nats://nats2:4222,nats://nats3:4222' });
    expect(co.servers).toEqual(['nats://nats1:4222', 'nats://nats2:4222', 'nats://nats3:4222']);
    expect(co.maxReconnectAttempts).toBe(-1);
  });

  it('turns off the per-request async traces (an Error built for every successful request)', () => {
    expect(buildConnectionOptions({ url: 'nats://h:4222' }).noAsyncTraces).toBe(true);
  });

  it('names an unreadable file and the kind of file', () => {
    expect(() => buildConnectionOptions({ url: 'nats://h:4222', credsFile: '/nonexistent/user.creds' })).toThrow(
      /^cannot read the NATS credentials file "\/nonexistent\/user.creds": ENOENT/,
    );
    expect(() =>
      buildConnectionOptions({ url: 'nats://h:4222', tls: { caFile: '/nonexistent/ca.pem' } }),
    ).toThrow('cannot read the NATS TLS CA file "/nonexistent/ca.pem"');
  });

  it('checks file contents: a seed file must hold a user seed, a creds file a JWT and a seed', () => {
    const seedFile = path.join(dir, 'bad.nk');
    writeFileSync(seedFile, 'not a seed\n');
    expect(() => buildConnectionOptions({ url: 'nats://h:4222', nkeySeedFile: seedFile })).toThrow(
      `the NATS nkey seed file "${seedFile}" does not hold a user seed`,
    );
    const credsFile = path.join(dir, 'bad.creds');
    writeFileSync(credsFile, 'hello');
    expect(() => buildConnectionOptions({ url: 'nats://h:4222', credsFile })).toThrow(NatsConfigError);
  });

  it('refuses conflicting auth settings and half-configured TLS', () => {
    expect(() => buildConnectionOptions({ url: 'nats://h:4222', token: 't', user: 'u', pass: 'p' })).toThrow(
      'NATS authentication is configured more than once (token, user/password): choose one',
    );
    expect(() => buildConnectionOptions({ url: 'nats://h:4222', pass: 'p' })).toThrow('a NATS password is set without a user');
    const cert = path.join(dir, 'cert.pem');
    writeFileSync(cert, '-----BEGIN CERTIFICATE-----\n');
    expect(() => buildConnectionOptions({ url: 'nats://h:4222', tls: { certFile: cert } })).toThrow(
      'NATS TLS client authentication needs both a certificate file and a key file',
    );
  });

  it('rejects an empty URL', () => {
    expect(() => buildConnectionOptions({ url: ' , ' })).toThrow('NATS url is empty');
  });
});
