import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort } from '../../src/cluster/nats-process.ts';
import { eventually } from '../helpers/pipeline.ts';

/**
 * A terminal's Ctrl-C sends SIGINT to every process of the foreground group: npm, tsx, node and,
 * unless it has a group of its own, the embedded nats-server. Started here as a user starts it
 * (`npm start`, in a process group of its own that stands for the terminal's).
 */
describe('Ctrl-C on npm start and npm run demo', () => {
  // `npm run demo` keeps the main thread busier (the simulator publishes on it): under the `tsx`
  // launcher, whose parent SIGKILLs a child that has not acknowledged a signal within 60 ms, its
  // Ctrl-C left no log line and an orphaned nats-server; the scripts now run `node --import tsx`.
  it.each([
    ['npm start', ['start', '--silent'], /gateway listening/],
    ['npm run demo', ['run', 'demo', '--silent'], /demo: simulator running/],
  ])('%s: drains the worker and gateway first, stops the embedded nats-server last, within 3 s and without checkpoint errors', async (_name, npmArgs, running) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'driftwatch-ctrlc-'));
    const port = await pickFreePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DRIFTWATCH_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    delete env.NATS_URL;
    const child = spawn('npm', npmArgs, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        return response.status === 200 ? true : undefined;
      }, 60_000, `/readyz (output so far: ${output.slice(-500)})`);
      await eventually(async () => (running.test(output) ? true : undefined), 30_000, `${running} (output so far: ${output.slice(-500)})`);
      const started = Date.now();
      process.kill(-(child.pid as number), 'SIGINT');
      const { code, signal } = await exited;
      const elapsed = Date.now() - started;
      // npm re-raises the signal its script ended on; the app itself exits 0 after 'stopped cleanly'
      expect(code === 0 || signal === 'SIGINT').toBe(true);
      expect(() => process.kill(-(child.pid as number), 0)).toThrow();
      expect(output).toMatch(/stopped cleanly/);
      expect(output).not.toMatch(/checkpoint failed/);
      expect(elapsed).toBeLessThan(3000);
      // the server stopped after the worker and gateway had drained
      const stoppedServer = output.indexOf('embedded nats-server stopped');
      expect(stoppedServer).toBeGreaterThan(-1);
      expect(output.indexOf('draining and shutting down')).toBeLessThan(stoppedServer);
    } finally {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // the group is gone already
      }
      // the embedded server has a process group of its own: when the app died without stopping it, stop it here
      // (only if that pid is still this test's server: a stale pid may belong to another process by now)
      const pidFile = join(dataDir, 'nats', 'nats-server.pid');
      const serverPid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
      const cmdline = `/proc/${serverPid}/cmdline`;
      if (serverPid > 0 && existsSync(cmdline) && readFileSync(cmdline, 'utf8').includes(dataDir)) process.kill(serverPid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
