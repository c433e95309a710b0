import { describe, expect, it } from 'vitest';
import { demoSchedule, describeDrift, isDriftActive, parseDriftSpec, parseDurationMs } from '../../src/simulator/drift.ts';

describe('parseDriftSpec', () => {
  it('parses kind@time with parameters', () => {
    expect(parseDriftSpec('covariate@60s:feature=f0,magnitude=1')).toEqual({ kind: 'covariate', at: 60_000, feature: 'f0', magnitude: 1 });
    expect(parseDriftSpec('latency@90s:magnitude=80,until=150s')).toEqual({ kind: 'latency', at: 90_000, magnitude: 80, until: 150_000 });
    expect(parseDriftSpec('canary@2m:model=fraud')).toEqual({ kind: 'canary', at: 120_000, model: 'fraud' });
    expect(parseDriftSpec('error_rate@500ms')).toEqual({ kind: 'error_rate', at: 500 });
    expect(parseDriftSpec('prior@30:magnitude=-0.1')).toEqual({ kind: 'prior', at: 30_000, magnitude: -0.1 });
  });

  it('says what is wrong', () => {
    expect(() => parseDriftSpec('covariate')).toThrow(/expected kind@time/);
    expect(() => parseDriftSpec('drifty@10s')).toThrow(/kind must be one of covariate, prior, concept, latency, error_rate, fairness, canary, segment, correlation, got "drifty"/);
    expect(() => parseDriftSpec('latency@soon')).toThrow(/start time: expected a duration like 500ms.*got "soon"/);
    expect(() => parseDriftSpec('latency@10s:magnitude=big')).toThrow(/magnitude must be a finite number, got "big"/);
    expect(() => parseDriftSpec('latency@10s:size=3')).toThrow(/unknown key "size"/);
    expect(() => parseDriftSpec('latency@10s:magnitude')).toThrow(/expected key=value, got "magnitude"/);
    expect(() => parseDriftSpec('latency@10s:until=5s')).toThrow(/until \(5000 ms\) must be after the start \(10000 ms\)/);
  });
});

describe('drift helpers', () => {
  it('parses durations with units, bare numbers as seconds', () => {
    expect(parseDurationMs('1.5m', 'x')).toBe(90_000);
    expect(parseDurationMs('2h', 'x')).toBe(7_200_000);
    expect(parseDurationMs('120', 'x')).toBe(120_000);
    expect(parseDurationMs('120', 'x', 'ms')).toBe(120);
    expect(() => parseDurationMs('-5s', '--duration')).toThrow(/--duration: expected a duration/);
  });

  it('is active from at (inclusive) to until (exclusive)', () => {
    const spec = { kind: 'latency' as const, at: 100, until: 200 };
    expect([99, 100, 199, 200].map((t) => isDriftActive(spec, t))).toEqual([false, true, true, false]);
    expect(isDriftActive({ kind: 'latency', at: 100 }, 1e12)).toBe(true);
  });

  it('describes drift for logs and has a demo schedule that alerts within two minutes', () => {
    expect(describeDrift({ kind: 'covariate', at: 0 })).toBe('covariate(f0,+1sd)');
    expect(describeDrift({ kind: 'latency', at: 0, model: 'fraud' })).toBe('fraud:latency(+80ms)');
    const demo = demoSchedule();
    expect(demo.map((d) => d.kind)).toEqual(['covariate', 'latency']);
    expect(Math.max(...demo.map((d) => d.at))).toBeLessThanOrEqual(90_000);
  });
});
