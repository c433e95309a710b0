/**
 * `npm run worker` / `npm run gateway` as real child processes, for scale-out tests and the scale
 * bench: their JSON log lines collected, their /metrics read back.
 *
 *   const w = spawnEntry('worker', { ...env, DRIFTWATCH_WORKER_ID: 'w1', DRIFTWATCH_WORKER_PORT: '0' });
 *   const url = await endpointOf(w);                     // from the 'worker health and metrics endpoint' line
 *   const m = parseWorkerMetrics(await metricsText(url)); // partitions, consumed, per-partition sequence
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { eventually } from './pipeline.ts';

/** A spawned entry point with its log lines (pino JSON) collected. */
export interface Proc {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  /** Exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** The last 4 KB of stdout + stderr, for failure messages. */
  output(): string;
}

/** `logFile`: also append everything the process writes there (kept for a failure's post-mortem). */
export function spawnEntry(entry: 'worker' | 'gateway', env: NodeJS.ProcessEnv, logFile?: string): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', `workers/${entry}.ts`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (logFile !== undefined) {
    const file = createWriteStream(logFile, { flags: 'a' });
    child.stdout!.pipe(file);
    child.stderr!.pipe(file);
  }
  const lines: Array<Record<string, unknown>> = [];
  let text = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    text = (text + d.toString()).slice(-4096);
    partial += d.toString();
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
  child.stderr!.on('data', (d: Buffer) => (text = (text + d.toString()).slice(-4096)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited, output: () => text };
}

/** Resolves with the exit code, or fails with the process's log if it does not exit within `ms`. */
export async function exitWithin(proc: Proc, ms: number, what = 'the process'): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not exit within ${ms} ms:\n${proc.output()}`)), ms);
  });
  try {
    return await Promise.race([proc.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function loggedLine(proc: Proc, msg: string, timeoutMs = 90_000): Promise<Record<string, unknown>> {
  return eventually(() => proc.lines.find((l) => l.msg === msg), timeoutMs, `"${msg}" in the log (${proc.output()})`);
}

/** A worker's health/metrics URL, from its start-up log line. */
export async function endpointOf(worker: Proc, timeoutMs = 90_000): Promise<string> {
  return String((await loggedLine(worker, 'worker health and metrics endpoint', timeoutMs)).url);
}

export async function metricsText(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return response.text();
}

/** What a worker's /metrics says about its partitions, read in one scrape. */
export interface WorkerMetrics {
  /** Partitions running there (those with a drift_partition_sequence gauge), ascending. */
  partitions: number[];
  /** drift_events_consumed_total, predictions + labels. */
  consumed: number;
  /** Last applied stream sequence of each partition running there. */
  sequence: Map<number, number>;
  /** Events of each partition consumed (within `sequence`) but held for their model's admission, so not yet in `consumed`. */
  held: Map<number, number>;
}

export function parseWorkerMetrics(text: string): WorkerMetrics {
  const sequence = new Map<number, number>();
  for (const m of text.matchAll(/^drift_partition_sequence\{partition="(\d+)"\} (\d+)/gm)) sequence.set(Number(m[1]), Number(m[2]));
  const consumed = [...text.matchAll(/^drift_events_consumed_total\{kind="(?:pred|label)"\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  const held = new Map<number, number>();
  for (const m of text.matchAll(/^drift_events_held\{partition="(\d+)"\} (\d+)/gm)) held.set(Number(m[1]), Number(m[2]));
  return { partitions: [...sequence.keys()].sort((a, b) => a - b), consumed, sequence, held };
}

export async function workerMetrics(url: string): Promise<WorkerMetrics> {
  return parseWorkerMetrics(await metricsText(url));
}

/** Every 'restored partition checkpoint' line of a worker's log: partition, restored sequence, log time (epoch ms). */
export function restoresIn(proc: Proc): Array<{ partition: number; seq: number; time: number }> {
  return proc.lines.flatMap((l) => (l.msg === 'restored partition checkpoint' ? [{ partition: Number(l.partition), seq: Number(l.seq), time: Number(l.time) }] : []));
}

/** The name the fencing tests use for a spawned entry point. */
export type EntryProcess = Proc;
