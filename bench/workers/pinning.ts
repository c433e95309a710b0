/**
 * CPU pinning for the gateway bench's `--pin` (Linux, util-linux `taskset`): the gateway's thread on
 * one CPU, the bench's other parts (the publisher standing for the workers, the REST client and the
 * scraper standing for dashboards and Prometheus, other processes in a deployment) on the others, so
 * that "on one gateway core" is measured as such on a machine the bench shares with itself.
 * Threads report their own thread id (`/proc/thread-self`), since Node does not expose it.
 *
 * The bench's process runs with V8's collector on each thread itself (`--single-threaded-gc`,
 * SINGLE_THREADED_GC): by default a process's heaps, every thread's, are collected mostly by V8's
 * helper threads, shared by all, so the publisher thread's garbage was collected on the gateway's
 * CPU. On its own thread, each heap's collection is in that thread's CPU time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** The calling thread's kernel thread id. */
export function ownThreadId(): number {
  // "<pid>/task/<tid>"
  return Number(readlinkSync('/proc/thread-self').split('/').pop());
}

/** The CPUs the bench's other parts go to: every CPU but the gateway's. Throws where pinning cannot be done. */
export function otherCpus(gatewayCpu: number): string {
  if (process.platform !== 'linux') throw new Error(`bench gateway --pin: thread pinning needs Linux (taskset), this is ${process.platform}`);
  const cpus = availableParallelism();
  if (cpus < 2) throw new Error('bench gateway --pin: needs at least 2 CPUs (the gateway on one, the rest on the others)');
  return Array.from({ length: cpus }, (_, cpu) => cpu)
    .filter((cpu) => cpu !== gatewayCpu)
    .join(',');
}

/** Pins `tid` (a thread, or with `allThreads` every thread of the process `tid`) to `cpus` ("0", "1,2,3"). */
export function pin(tid: number, cpus: string, allThreads = false): void {
  try {
    execFileSync('taskset', [...(allThreads ? ['-a'] : []), '-p', '-c', cpus, String(tid)], { stdio: 'ignore' });
  } catch (error) {
    throw new Error(`bench gateway --pin: taskset -p -c ${cpus} ${tid} failed (is util-linux installed?): ${(error as Error).message}`);
  }
}

/** CPU time (ms) the calling thread has used (/proc/thread-self/stat: utime + stime, in clock ticks of 10 ms). */
export function ownThreadCpuMs(): number {
  return statCpuMs('/proc/thread-self/stat');
}

/** CPU time (ms) thread `tid` of this process has used (see ownThreadCpuMs). */
export function threadCpuMs(tid: number): number {
  return statCpuMs(`/proc/self/task/${tid}/stat`);
}

/**
 * CPU time (ms) this process's threads have used but the calling one and those in `others`: with
 * the process pinned, V8's platform threads (concurrent marking and sweeping, compilation) and
 * libuv's pool, on the pinned CPU. A thread gone meanwhile stops counting, so read it over spans
 * where none end.
 */
export function helperThreadsCpuMs(others: ReadonlySet<number>): number {
  const own = ownThreadId();
  let total = 0;
  for (const entry of readdirSync('/proc/self/task')) {
    const tid = Number(entry);
    if (tid === own || others.has(tid)) continue;
    try {
      total += statCpuMs(`/proc/self/task/${tid}/stat`);
    } catch {
      // ended between the listing and the read
    }
  }
  return total;
}

/** CPU time (ms) process `pid` has used, all its threads (see ownThreadCpuMs). */
export function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

function statCpuMs(path: string): number {
  const fields = readFileSync(path, 'utf8');
  // the fields after the command name (in parentheses, which may hold spaces): utime and stime are the 12th and 13th
  const after = fields.slice(fields.lastIndexOf(')') + 2).split(' ');
  return (Number(after[11]) + Number(after[12])) * 10;
}

/** Busy and total jiffies of one CPU (/proc/stat), to take its share used by anything between two readings. */
export function cpuTimes(cpu: number): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (line === undefined) throw new Error(`bench gateway --pin: no cpu${cpu} line in /proc/stat`);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** The V8 flag that has each thread collect its own heap (see the file's comment). */
export const SINGLE_THREADED_GC = '--single-threaded-gc';
