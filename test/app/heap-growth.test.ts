import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { applyHeapGrowth } from '../../src/app/heap-growth.ts';

describe('applyHeapGrowth', () => {
  it("hands V8 the configured growth as its flag, 0 as V8's own choice", () => {
    const flags: string[] = [];
    applyHeapGrowth(100, (f) => flags.push(f));
    applyHeapGrowth(0, (f) => flags.push(f));
    expect(flags).toEqual(['--heap-growing-percent=100', '--heap-growing-percent=0']);
  });

  it('refuses a growth that is not a whole number >= 0, setting nothing', () => {
    const flags: string[] = [];
    expect(() => applyHeapGrowth(-1, (f) => flags.push(f))).toThrow('heap growing percent: -1 is not a whole number >= 0');
    expect(() => applyHeapGrowth(1.5, (f) => flags.push(f))).toThrow(/1.5/);
    expect(flags).toEqual([]);
  });

  it("is a flag of this Node's V8 (an unknown one would be reported on stderr, not refused)", () => {
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    expect(options).toMatch(/--heap-growing-percent \(specifies heap growing factor/);
  });
});
