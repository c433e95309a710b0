import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startEmbeddedNats } from '../../src/cluster/embedded.ts';
import { findNatsServerBinary, NatsServerNotFoundError } from '../../src/cluster/nats-process.ts';

const INSTALL_MESSAGE =
  'nats-server was not found on PATH or at /usr/sbin/nats-server. Install it: `apt-get install -y nats-server` ' +
  '(Debian/Ubuntu), `brew install nats-server` (macOS), or set NATS_SERVER_BIN, or set NATS_URL to use an existing server.';

function collectingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const log = (level: string) => (objOrMsg: unknown, msg?: string) => {
    lines.push({ level, msg: typeof objOrMsg === 'string' ? objOrMsg : (msg ?? '') });
  };
  return { lines, logger: { debug: log('debug'), info: log('info'), warn: log('warn') } };
}

describe('findNatsServerBinary', () => {
  it('says how to install nats-server when it is nowhere', () => {
    const find = () => findNatsServerBinary({ env: { PATH: '/nonexistent-bin:/also-not-here' }, isExecutable: () => false });
    expect(find).toThrow(NatsServerNotFoundError);
    expect(find).toThrow(INSTALL_MESSAGE);
  });

  it('prefers PATH, then the Debian location', () => {
    const present = new Set(['/opt/nats/bin/nats-server', '/usr/sbin/nats-server']);
    const isExecutable = (f: string) => present.has(f);
    expect(findNatsServerBinary({ env: { PATH: '/usr/bin:/opt/nats/bin' }, isExecutable })).toBe('/opt/nats/bin/nats-server');
    expect(findNatsServerBinary({ env: { PATH: '/usr/bin' }, isExecutable })).toBe('/usr/sbin/nats-server');
    expect(findNatsServerBinary({ env: { NATS_SERVER_BIN: '/opt/nats/bin/nats-server', PATH: '' }, isExecutable })).toBe(
      '/opt/nats/bin/nats-server',
    );
  });

  it('treats a wrong NATS_SERVER_BIN as an error instead of silently using another binary', () => {
    // real file system: /usr/sbin/nats-server exists on this machine, but the explicit setting wins
    expect(() => findNatsServerBinary({ env: { NATS_SERVER_BIN: '/nonexistent', PATH: '' } })).toThrow(
      'NATS_SERVER_BIN is set to "/nonexistent", which is not an executable file.',
    );
  });
});

describe('startEmbeddedNats', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('fails with the install message when the binary is missing', async () => {
    const storeDir = mkdtempSync(path.join(os.tmpdir(), 'driftwatch-embedded-'));
    dirs.push(storeDir);
    const { logger } = collectingLogger();
    await expect(
      startEmbeddedNats({ storeDir, logger, find: { env: { PATH: '' }, fallbackPaths: ['/nonexistent/nats-server'] } }),
    ).rejects.toThrow('nats-server was not found on PATH or at /nonexistent/nats-server. Install it:');
  });

  it('starts on a free loopback port with JetStream under storeDir, keeps data across restarts, and stops', async () => {
    const storeDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'driftwatch-embedded-')), 'data', 'nats');
    dirs.push(path.dirname(path.dirname(storeDir)));
    const { lines, logger } = collectingLogger();
    const first = await startEmbeddedNats({ storeDir, logger });
    expect(first.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(first.port).not.toBe(4222);
    const own = { user: first.credentials!.driftwatch.user, pass: first.credentials!.driftwatch.password };
    const nc = await connect({ servers: first.url, ...own });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'EMBEDDED_TEST', subjects: ['embedded.test'] });
    await jsm.jetstream().publish('embedded.test', 'hello');
    await nc.close();
    // the server's own log reached the logger at debug level
    expect(lines.some((l) => l.level === 'debug' && /Server is ready/.test(l.msg))).toBe(true);
    await first.stop();
    await first.stop(); // idempotent
    await expect(connect({ servers: first.url, reconnect: false, timeout: 500 })).rejects.toThrow();

    const second = await startEmbeddedNats({ storeDir, logger });
    try {
      // the same credentials: generated once, kept in the data directory
      expect(second.credentials).toEqual(first.credentials);
      const nc2 = await connect({ servers: second.url, ...own });
      const info = await (await jetstreamManager(nc2)).streams.info('EMBEDDED_TEST');
      expect(info.state.messages).toBe(1);
      await nc2.close();
    } finally {
      await second.stop();
    }
  });

  it('stops a server orphaned by a killed previous run before reusing its store dir', async () => {
    const storeDir = mkdtempSync(path.join(os.tmpdir(), 'driftwatch-embedded-'));
    dirs.push(storeDir);
    const { lines, logger } = collectingLogger();
    const orphan = await startEmbeddedNats({ storeDir, logger }); // never stopped: as after kill -9 of its parent
    const next = await startEmbeddedNats({ storeDir, logger });
    try {
      expect(() => process.kill(orphan.pid, 0)).toThrow(); // the orphan is gone
      expect(lines.some((l) => l.level === 'warn' && /orphaned embedded nats-server/.test(l.msg))).toBe(true);
      const nc = await connect({ servers: next.url, user: 'driftwatch', pass: next.credentials!.driftwatch.password });
      await (await jetstreamManager(nc)).getAccountInfo();
      await nc.close();
    } finally {
      await next.stop();
      await orphan.stop();
    }
  });
});
