import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { loadConfig, isLoopbackHost } from '../../src/config/load.ts';

describe('serving beyond loopback', () => {
  it('knows the loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.0.0.53', '::1', 'localhost']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'driftwatch.internal']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('refuses HOST=0.0.0.0 without a token, saying how to fix it', () => {
    expect(() => loadConfig({ env: { HOST: '0.0.0.0' } })).toThrow(
      /http\.host = "0\.0\.0\.0" \(from environment variable HOST\): expected a loopback address .* set DRIFTWATCH_TOKEN .* or DRIFTWATCH_ALLOW_UNAUTHENTICATED=true/,
    );
  });

  it('accepts it with a token, or when explicitly allowed', () => {
    expect(loadConfig({ env: { HOST: '0.0.0.0', DRIFTWATCH_TOKEN: 'secret' } }).http.host).toBe('0.0.0.0');
    const allowed = loadConfig({ env: { HOST: '0.0.0.0', DRIFTWATCH_ALLOW_UNAUTHENTICATED: 'true' } });
    expect(allowed.http).toEqual({ host: '0.0.0.0', port: 8080, allowUnauthenticated: true });
    expect(() => loadConfig({ env: { HOST: '0.0.0.0', DRIFTWATCH_ALLOW_UNAUTHENTICATED: 'yes' } })).toThrow(/http\.allowUnauthenticated = "yes"/);
  });

  it('npm start with HOST=0.0.0.0 and no token refuses to start', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOST: '0.0.0.0' };
    delete env.DRIFTWATCH_TOKEN;
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/all-in-one.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (d) => (output += d));
    child.stdout.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(output).toMatch(/http\.host = "0\.0\.0\.0" \(from environment variable HOST\)/);
  }, 60_000);
});
