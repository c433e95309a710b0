/**
 * `npm run worker` / `npm run gateway` as child processes, with their pino JSON log lines collected
 * (spawned by test/helpers/processes.ts; this adds the environment a test starts them with).
 */
import { loggedLine } from './processes.ts';
import type { Proc } from './processes.ts';

export { spawnEntry } from './processes.ts';
export type { EntryProcess } from './processes.ts';

/** Waits for a log line with this message; fails with the process's output. */
export function logged(proc: Proc, msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return loggedLine(proc, msg, timeoutMs);
}

/** The process's environment without the settings a test must choose itself. */
export function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('DRIFTWATCH_') || key === 'PORT' || key === 'HOST' || key === 'NATS_URL') delete env[key];
  return { ...env, ...extra };
}
