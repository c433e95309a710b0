import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort } from '../../src/cluster/nats-process.ts';
import { eventually } from '../helpers/pipeline.ts';

describe('npm start', () => {
  it('with no NATS_URL starts an embedded nats-server, serves /readyz, and exits cleanly on SIGINT', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'driftwatch-start-'));
    const port = await pickFreePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DRIFTWATCH_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    delete env.NATS_URL;
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/all-in-one.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const ready = await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        return response.status === 200 ? response.json() : undefined;
      }, 60_000, `/readyz (output so far: ${output.slice(-500)})`);
      expect(ready).toEqual({ status: 'ready' });
      expect(output).toMatch(/started embedded nats-server/);
      // where to go next: the dashboard, the API and the live feed
      const listening = output.split('\n').find((line) => line.includes('"gateway listening"'));
      expect(listening && JSON.parse(listening)).toMatchObject({
        dashboard: `http://127.0.0.1:${port}/`,
        api: `http://127.0.0.1:${port}/v1/models`,
        live: `ws://127.0.0.1:${port}/v1/live`,
      });
      // one process, one /metrics with the worker's and the gateway's series, each registered once
      const text = await eventually(async () => {
        const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /^drift_partition_owner\{/m.test(body) ? body : undefined;
      }, 10_000, 'the owner gauge on /metrics');
      const types = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
      expect(types.length).toBe(new Set(types).size);
      expect(types).toEqual(expect.arrayContaining(['drift_events_consumed_total', 'drift_partition_owner', 'drift_checkpoint_age_seconds', 'drift_alerts_firing', 'drift_feature_drift', 'drift_ws_clients']));
      const owned = [...text.matchAll(/^drift_partition_owner\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      expect(owned).toBe(16);
      expect(output).not.toMatch(/already registered/);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(output).toMatch(/stopped cleanly/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses an invalid config value naming the key, the value and what was expected', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/all-in-one.ts'], { env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(output).toMatch(/http\.port = "eighty" \(from environment variable PORT\): expected an integer between 0 and 65535/);
  });
});
