import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/**
 * How many cores this process may use: the CPUs it may be scheduled on (os.availableParallelism:
 * the affinity mask, so `taskset` and a container's cpuset count), and no more than its cgroup's
 * CPU quota, rounded up. os.cpus() counts the machine's cores: a container limited to 2 CPUs on a
 * 64-core node would start 63 partition threads (worker.threads auto), each with its own heap,
 * throttled by the quota. Node 20's libuv (1.46) reads no quota, so it is read here, as the JVM and
 * the Go runtime (1.25) do: cgroup v2's cpu.max, or v1's cpu.cfs_quota_us over cpu.cfs_period_us,
 * for the process's own cgroup and each one above it, the smallest limit.
 */
export function usableCores(root = '/', parallelism = availableParallelism()): { cores: number; quota: number | null } {
  const quota = cgroupCpuQuota((path) => readText(join(root, path)));
  return { cores: quota === null ? parallelism : Math.max(1, Math.min(parallelism, Math.ceil(quota))), quota };
}

/**
 * The CPU quota in cores of the process's cgroup (the smallest of it and its ancestors), or null
 * for none; `read` gives a file's text by its absolute path, null when it cannot be read.
 * Unreadable or malformed files count as no limit: a wrong guess would only start more threads.
 */
export function cgroupCpuQuota(read: (path: string) => string | null): number | null {
  const own = read('/proc/self/cgroup');
  const paths = own === null ? { v2: null, v1: null } : cgroupPaths(own);
  let quota: number | null = null;
  const take = (limit: number | null): void => {
    if (limit !== null && (quota === null || limit < quota)) quota = limit;
  };
  // a container with its own cgroup namespace sees its cgroup at the mount's root, and "/" as its
  // path; without one, it sees its path, but the mount's root may already be its cgroup: both are read
  for (const dir of ancestors(paths.v2 ?? '/')) {
    const cpuMax = read(join('/sys/fs/cgroup', dir, 'cpu.max'));
    if (cpuMax !== null) take(parseCpuMax(cpuMax));
  }
  for (const mount of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    for (const dir of ancestors(paths.v1 ?? '/')) {
      const quotaUs = read(join(mount, dir, 'cpu.cfs_quota_us'));
      const periodUs = read(join(mount, dir, 'cpu.cfs_period_us'));
      if (quotaUs !== null && periodUs !== null) take(parseCfsQuota(quotaUs, periodUs));
    }
  }
  return quota;
}

/** The v2 (unified) and v1 cpu controller paths in /proc/self/cgroup's text. */
export function cgroupPaths(procSelfCgroup: string): { v2: string | null; v1: string | null } {
  let v2: string | null = null;
  let v1: string | null = null;
  for (const line of procSelfCgroup.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1).trim();
    // a cgroup outside this namespace's root reads as "/../.."; its files are not under the mount
    if (!path.startsWith('/') || path.split('/').includes('..')) continue;
    if (line.slice(0, first) === '0' && controllers === '') v2 = path;
    else if (controllers.split(',').includes('cpu')) v1 = path;
  }
  return { v2, v1 };
}

/** cgroup v2 cpu.max ("$MAX $PERIOD", "max" for none) in cores; null for no limit or unreadable text. */
export function parseCpuMax(text: string): number | null {
  const [max, period] = text.trim().split(/\s+/);
  if (max === 'max') return null;
  return quotaOf(Number(max), Number(period ?? '100000'));
}

/** cgroup v1 cpu.cfs_quota_us over cpu.cfs_period_us in cores; null for none (-1) or unreadable text. */
export function parseCfsQuota(quotaUs: string, periodUs: string): number | null {
  return quotaOf(Number(quotaUs.trim()), Number(periodUs.trim()));
}

function quotaOf(quota: number, period: number): number | null {
  if (!(Number.isFinite(quota) && quota > 0 && Number.isFinite(period) && period > 0)) return null;
  return quota / period;
}

/** `path` and each directory above it, up to "/". */
function ancestors(path: string): string[] {
  const dirs: string[] = [];
  let dir = path.replace(/\/+$/, '') || '/';
  for (;;) {
    dirs.push(dir);
    if (dir === '/') return dirs;
    dir = dir.slice(0, dir.lastIndexOf('/')) || '/';
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
