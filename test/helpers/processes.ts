/** `npm run worker` / `npm run gateway` processes spawned by integration tests, with their JSON log lines collected. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface EntryProcess {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** The last 2,000 characters of stdout and stderr, for failure messages. */
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
  return { child, lines, exited, output: () => text.slice(-2000) };
}

/** A graceful stop must end the process: fail with its log, not at the test's time limit. */
export async function exitWithin(proc: EntryProcess, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the process did not exit within ${ms} ms:\n${proc.output()}`)), ms);
  });
  try {
    return await Promise.race([proc.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}
