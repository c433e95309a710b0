import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cgroupPaths, parseCfsQuota, parseCpuMax, usableCores } from '../../src/app/cores.ts';

describe('the cgroup files read', () => {
  it.each([
    ['max 100000', null],
    ['200000 100000', 2],
    ['150000 100000\n', 1.5],
    ['50000 100000', 0.5],
    ['100000', 1],
    ['', null],
    ['abc 100000', null],
    ['100000 0', null],
  ])('cpu.max %j is %j cores', (text, cores) => {
    expect(parseCpuMax(text)).toBe(cores);
  });

  it.each([
    ['-1', '100000', null],
    ['400000', '100000', 4],
    ['25000\n', '50000\n', 0.5],
    ['x', '100000', null],
  ])('cfs_quota_us %j over cfs_period_us %j is %j cores', (quota, period, cores) => {
    expect(parseCfsQuota(quota, period)).toBe(cores);
  });

  it('finds the unified and the cpu controller paths in /proc/self/cgroup', () => {
    expect(cgroupPaths('12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n0::/system.slice/x.service\n')).toEqual({ v1: '/docker/abc', v2: '/system.slice/x.service' });
    expect(cgroupPaths('0::/\n')).toEqual({ v1: null, v2: '/' });
    expect(cgroupPaths('1:cpuset:/a\n2:cpuacct:/b\n')).toEqual({ v1: null, v2: null });
    // a cgroup outside the namespace's root: its files are not under the mount
    expect(cgroupPaths('0::/../../x\n')).toEqual({ v1: null, v2: null });
    expect(cgroupPaths('garbage\n\n')).toEqual({ v1: null, v2: null });
  });
});

describe('usableCores: a machine laid out in a directory', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  function machine(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'dw-cores-'));
    roots.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }

  const v2 = (cpuMax: string): Record<string, string> => ({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': cpuMax });
  it.each<[string, Record<string, string>, number, { cores: number; quota: number | null }]>([
    ['no cgroup file can be read: every CPU it may run on', {}, 16, { cores: 16, quota: null }],
    ['cgroup v2 in a container with its own namespace: the quota at the mount root, rounded up', v2('150000 100000\n'), 64, { cores: 2, quota: 1.5 }],
    ['cgroup v2 with no quota: every CPU', v2('max 100000\n'), 8, { cores: 8, quota: null }],
    [
      'cgroup v2, a nested cgroup: the smallest limit of it and those above it',
      {
        '/proc/self/cgroup': '0::/kubepods/pod1/ctr\n',
        '/sys/fs/cgroup/cpu.max': 'max 100000\n',
        '/sys/fs/cgroup/kubepods/cpu.max': '800000 100000\n',
        '/sys/fs/cgroup/kubepods/pod1/cpu.max': '300000 100000\n',
        '/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': 'max 100000\n',
      },
      32,
      { cores: 3, quota: 3 },
    ],
    [
      'cgroup v1 without a namespace: the path names the container, the mount root is its cgroup',
      {
        '/proc/self/cgroup': '4:cpu,cpuacct:/docker/0123abcd\n3:memory:/docker/0123abcd\n',
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '200000\n',
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
      },
      64,
      { cores: 2, quota: 2 },
    ],
    [
      'cgroup v1 under /sys/fs/cgroup/cpu, no quota (-1): every CPU',
      { '/proc/self/cgroup': '1:cpu:/\n', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' },
      4,
      { cores: 4, quota: null },
    ],
    ['a quota below one core still gives one', v2('20000 100000'), 8, { cores: 1, quota: 0.2 }],
    ['a quota above the CPUs gives the CPUs', v2('1600000 100000'), 4, { cores: 4, quota: 16 }],
    ['a malformed cpu.max counts as no limit', v2('lots\n'), 6, { cores: 6, quota: null }],
  ])('%s', (_, files, parallelism, expected) => {
    expect(usableCores(machine(files), parallelism)).toEqual(expected);
  });
});
