import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { formatLogEntry, prettyDestination, resolveLogFormat } from '../../src/logging/logger.ts';

function capture(): { out: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { out, lines: () => chunks.join('').split('\n').filter((l) => l !== '') };
}

describe('log format', () => {
  it('auto is readable on a terminal and JSON otherwise; an explicit choice wins', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('writes one readable line per entry: time, level, component, message, fields', () => {
    const { out, lines } = capture();
    const logger = pino({ name: 'driftwatch' }, prettyDestination(out, false));
    logger.child({ component: 'gateway' }).warn({ url: 'http://127.0.0.1:8080', models: 3, reason: 'two words' }, 'gateway listening');
    const [line] = lines();
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[gateway\] gateway listening url=http:\/\/127\.0\.0\.1:8080 models=3 reason="two words"$/);
    expect(line).not.toMatch(/pid|hostname|"level"/);
  });

  it('an error reads as one sentence; its stack only when asked for', () => {
    const error = new Error('could not connect to NATS at nats://127.0.0.1:1: connection refused');
    const entry = { level: 60, time: 0, msg: error.message, err: { message: error.message, stack: error.stack } };
    expect(formatLogEntry(entry)).toBe('00:00:00.000 FATAL could not connect to NATS at nats://127.0.0.1:1: connection refused');
    expect(formatLogEntry(entry, true)).toContain('\nError: could not connect');
    expect(formatLogEntry({ level: 50, time: 0, msg: 'checkpoint failed', err: { message: 'timeout' } })).toBe('00:00:00.000 ERROR checkpoint failed (timeout)');
  });

  it('npm start with LOG_FORMAT=pretty fails to start as one readable sentence, no JSON, no stack', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_FORMAT: 'pretty', NATS_URL: 'nats://127.0.0.1:1', PORT: '0' };
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/all-in-one.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    const lines = output.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} FATAL could not connect to NATS at nats:\/\/127\.0\.0\.1:1: connection refused/);
    expect(lines[0]).not.toMatch(/[{}]| {4}at /);
  }, 60_000);

  it('a bad LOG_FORMAT is refused naming the setting and the choices', async () => {
    const { loadConfig } = await import('../../src/config/load.ts');
    expect(() => loadConfig({ env: { LOG_FORMAT: 'fancy' } })).toThrow(/log\.format = "fancy" \(from environment variable LOG_FORMAT\): expected one of auto, json, pretty/);
  });
});
