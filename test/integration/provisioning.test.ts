import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { provision, DEFAULT_PANES_MAX_AGE_MS } from '../../src/cluster/provision.ts';
import { PANES_STREAM } from '../../src/cluster/subjects.ts';
import { loadConfig } from '../../src/config/load.ts';
import { openProvisionedNats } from '../../src/app/nats.ts';

const NS_PER_MS = 1_000_000;
const LABEL_HORIZON_MS = 3 * 3600_000;
/** join.labelHorizonMs + 10 minutes: what every entry point must leave on DRIFT_PANES for this config. */
const DERIVED_PANES_MAX_AGE_MS = LABEL_HORIZON_MS + 600_000;

describe('separately started worker and gateway processes', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let dir: string;
  let configFile: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    // A cluster provisioned before with the default pane retention (as any start used to leave it).
    await provision(nc, { partitions: 2 });
    dir = mkdtempSync(join(tmpdir(), 'driftwatch-provisioning-'));
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ join: { labelHorizonMs: '3h' } }));
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function panesMaxAgeMs(): Promise<number> {
    const info = await (await jetstreamManager(nc)).streams.info(PANES_STREAM);
    return info.config.max_age / NS_PER_MS;
  }

  /** Runs `npm run <script>`'s entry file until it logs `ready`, then stops it with SIGINT. */
  async function runUntilReady(entry: string, ready: RegExp): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      env: { ...process.env, NATS_URL: server.url, PORT: '0', LOG_LEVEL: 'info', DRIFTWATCH_CONFIG: configFile, DRIFTWATCH_WORKER_THREADS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const onData = (data: Buffer) => {
        output += data.toString();
        if (ready.test(output)) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      void exited.then((code) => reject(new Error(`${entry} exited with ${code} before it was ready:\n${output.slice(-2000)}`)));
    });
    child.kill('SIGINT');
    return { code: await exited, output };
  }

  it('npm run worker then npm run gateway both leave DRIFT_PANES at the retention derived from the label horizon', async () => {
    expect(await panesMaxAgeMs()).toBe(DEFAULT_PANES_MAX_AGE_MS);

    const worker = await runUntilReady('workers/worker.ts', /worker consuming/);
    expect(worker.code).toBe(0);
    expect(await panesMaxAgeMs()).toBe(DERIVED_PANES_MAX_AGE_MS);

    const gateway = await runUntilReady('workers/gateway.ts', /gateway listening/);
    expect(gateway.code).toBe(0);
    // the gateway agreed with the worker: nothing to update, so no reset and no differences reported
    expect(await panesMaxAgeMs()).toBe(DERIVED_PANES_MAX_AGE_MS);
    expect(gateway.output).not.toMatch(/stream DRIFT_PANES differs/);

    // npm start's first step (src/app/all-in-one.ts) against the same cluster agrees too
    const config = loadConfig({ env: { NATS_URL: server.url, DRIFTWATCH_CONFIG: configFile } });
    const allInOne = await openProvisionedNats('all-in-one', config, pino({ level: 'silent' }));
    await allInOne.nats.close();
    expect(await panesMaxAgeMs()).toBe(DERIVED_PANES_MAX_AGE_MS);
  }, 120_000);
});
