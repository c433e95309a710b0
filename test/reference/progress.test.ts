import { describe, expect, it } from 'vitest';
import { createProgress, describeProgress } from '../../src/cli/progress.ts';

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, write: (text: string) => void writes.push(text), isTTY };
}

describe('progress of reading a training file', () => {
  it('says rows, MB read of the total, MB/s and the time left', () => {
    expect(describeProgress(1_234_567, 50e6, 200e6, 10_000)).toBe('1,234,567 rows, 50.0/200.0 MB (25%), 5.0 MB/s, ETA 30s');
    expect(describeProgress(10, 100e6, 700e6, 10_000)).toMatch(/ETA 1m00s$/);
  });

  it('draws a bar in place on a terminal, and clears it at the end', () => {
    let now = 0;
    const out = sink(true);
    const progress = createProgress(out, 100e6, () => now);
    progress.update(10, 1e6);
    expect(out.writes).toEqual([]);
    now = 2_000;
    progress.update(500_000, 50e6);
    expect(out.writes).toEqual(['\r\x1b[2K[############------------] 500,000 rows, 50.0/100.0 MB (50%), 25.0 MB/s, ETA 2s']);
    now = 2_100;
    progress.update(510_000, 51e6);
    expect(out.writes).toHaveLength(1);
    now = 4_000;
    progress.done(1_000_000, 100e6);
    expect(out.writes.slice(1)).toEqual(['\r\x1b[2K', 'read 1,000,000 rows (100.0 MB) in 4s\n']);
  });

  it('writes plain lines every few seconds elsewhere, and nothing for a quick file', () => {
    let now = 0;
    const out = sink(false);
    const progress = createProgress(out, 10e6, () => now);
    for (now = 0; now <= 12_000; now += 500) progress.update(now, now * 100);
    expect(out.writes).toEqual(['reading: 5,000 rows, 0.5/10.0 MB (5%), 0.1 MB/s, ETA 1m35s\n', 'reading: 10,000 rows, 1.0/10.0 MB (10%), 0.1 MB/s, ETA 1m30s\n']);
    const quick = sink(false);
    const fast = createProgress(quick, 10e6, () => 500);
    fast.update(10, 10e6);
    fast.done(10, 10e6);
    expect(quick.writes).toEqual([]);
  });
});
