import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { openProvisionedNats } from '../../src/app/nats.ts';

/** The workers/ entry files only wire src/ together; these check that the wiring reaches the process exit code. */
function run(entry: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.NATS_URL;
  const result = spawnSync(process.execPath, ['--import', 'tsx', entry, ...args], { encoding: 'utf8', timeout: 30_000, env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run simulate (workers/simulator.ts)', () => {
  it('prints its usage with --help and exits 0', () => {
    const result = run('workers/simulator.ts', ['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/--help\s+print this help/);
  }, 40_000);

  it('refuses a bad argument before touching the network, exit 2', () => {
    const result = run('workers/simulator.ts', ['--label-early', '0.8', '--label-never', '0.5']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^simulate: --label-early plus --label-never must not exceed 1/);
  }, 40_000);
});

describe('npm run worker / npm run gateway without NATS_URL', () => {
  it('refuse to start rather than embed a nats-server of their own', async () => {
    const config = loadConfig({ env: {} });
    for (const entry of ['worker', 'gateway'] as const) {
      await expect(openProvisionedNats(entry, config, pino({ level: 'silent' }), {})).rejects.toThrow(/NATS_URL is not set: this process needs an existing NATS server/);
    }
  });
});
