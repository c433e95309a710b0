import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer } from '../helpers/nats-server.ts';

describe('startNatsServer test helper', () => {
  it('restarts after SIGKILL on the same port with the same storage, and cleans up on stop', async () => {
    const srv = await startNatsServer();
    expect(srv.url).toBe(`nats://127.0.0.1:${srv.port}`);
    expect(srv.port).not.toBe(4222);
    let nc = await connect({ servers: srv.url });
    let jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HELPER', subjects: ['helper.>'] });
    await jsm.jetstream().publish('helper.a', 'one');
    await nc.close();

    const firstPid = srv.pid;
    await srv.restart({ signal: 'SIGKILL' });
    expect(srv.pid).not.toBe(firstPid);
    expect(srv.isRunning()).toBe(true);
    nc = await connect({ servers: srv.url });
    jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info('HELPER')).state.messages).toBe(1);
    await nc.close();

    await srv.kill('SIGKILL');
    expect(srv.isRunning()).toBe(false);
    expect(existsSync(srv.storeDir)).toBe(true); // kill keeps storage for a later restart
    await srv.restart();
    expect(srv.isRunning()).toBe(true);

    await srv.stop();
    expect(srv.isRunning()).toBe(false);
    expect(existsSync(srv.storeDir)).toBe(false);
  });

  it('keeps the store dir when asked', async () => {
    const srv = await startNatsServer({ keep: true });
    await srv.stop();
    expect(existsSync(srv.storeDir)).toBe(true);
    rmSync(path.dirname(srv.storeDir), { recursive: true, force: true }); // the helper's temp dir
  });

  it('fails fast with the server log when nats-server rejects its arguments', async () => {
    await expect(startNatsServer({ args: ['--no-such-flag'] })).rejects.toThrow(/nats-server exited before it was ready/);
  });
});
