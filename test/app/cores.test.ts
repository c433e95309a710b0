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

  it('takes every CPU it may run on when no cgroup file can be read', () => {
    expect(usableCores(machine({}), 16)).toEqual({ cores: 16, quota: null });
  });

  it('cgroup v2 in a container with its own namespace: the quota at the mount root, rounded up', () => {
    const root = machine({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '150000 100000\n' });
    expect(usableCores(root, 64)).toEqual({ cores: 2, quota: 1.5 });
  });

  it('cgroup v2 with no quota: every CPU', () => {
    const root = machine({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n' });
    expect(usableCores(root, 8)).toEqual({ cores: 8, quota: null });
  });

  it('cgroup v2, a nested cgroup: the smallest limit of it and those above it', () => {
    const root = machine({
      '/proc/self/cgroup': '0::/kubepods/pod1/ctr\n',
      '/sys/fs/cgroup/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/kubepods/cpu.max': '800000 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '300000 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': 'max 100000\n',
    });
    expect(usableCores(root, 32)).toEqual({ cores: 3, quota: 3 });
  });

  it('cgroup v1 without a namespace: the path names the container, the mount root is its cgroup', () => {
    const root = machine({
      '/proc/self/cgroup': '4:cpu,cpuacct:/docker/0123abcd\n3:memory:/docker/0123abcd\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '200000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(usableCores(root, 64)).toEqual({ cores: 2, quota: 2 });
  });

  it('cgroup v1 under /sys/fs/cgroup/cpu, no quota (-1): every CPU', () => {
    const root = machine({
      '/proc/self/cgroup': '1:cpu:/\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    expect(usableCores(root, 4)).toEqual({ cores: 4, quota: null });
  });

  it('a quota below one core still gives one; a quota above the CPUs gives the CPUs', () => {
    const small = machine({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '20000 100000' });
    expect(usableCores(small, 8)).toEqual({ cores: 1, quota: 0.2 });
    const large = machine({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '1600000 100000' });
    expect(usableCores(large, 4)).toEqual({ cores: 4, quota: 16 });
  });

  it('a malformed cpu.max counts as no limit', () => {
    const root = machine({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'lots\n' });
    expect(usableCores(root, 6)).toEqual({ cores: 6, quota: null });
  });
});
