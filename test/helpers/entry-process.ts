/**
 * `npm run worker` / `npm run gateway` as child processes, with their pino JSON log lines collected
 * (the same pattern as test/integration/scale-out.test.ts, shared for new tests).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { eventually } from './pipeline.ts';

export interface EntryProcess {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** The last 4 KB of stdout and stderr, for failure messages. */
  output(): string;
}

export function spawnEntry(entry: 'worker' | 'gateway', env: NodeJS.ProcessEnv): EntryProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', `workers/${entry}.ts`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let text = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    text += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (text += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited, output: () => text.slice(-4000) };
}

/** Waits for a log line with this message; fails with the process's output. */
export function logged(proc: EntryProcess, msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return eventually(() => proc.lines.find((l) => l.msg === msg), timeoutMs, `"${msg}" in the log (${proc.output()})`);
}

/** The process's environment without the settings a test must choose itself. */
export function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('DRIFTWATCH_') || key === 'PORT' || key === 'HOST' || key === 'NATS_URL') delete env[key];
  return { ...env, ...extra };
}
