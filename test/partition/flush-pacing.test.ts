import { describe, expect, it } from 'vitest';
import { flushDue, flushIntervalFor, flushTickMs } from '../../src/partition/flush-pacing.ts';
import { loadConfig } from '../../src/config/load.ts';

const pacing = { minIntervalMs: 250, maxIntervalMs: 1000, messagesPerSecond: 8 };

describe('flush pacing', () => {
  it('flushes a few changed panes at the shortest interval, many at the longest, and in between at the message budget', () => {
    expect(flushIntervalFor(1, pacing)).toBe(250);
    expect(flushIntervalFor(2, pacing)).toBe(250);
    expect(flushIntervalFor(4, pacing)).toBe(500);
    expect(flushIntervalFor(8, pacing)).toBe(1000);
    expect(flushIntervalFor(500, pacing)).toBe(1000);
  });

  it('keeps a partition within max(budget, changed panes per longest interval) messages per second', () => {
    for (const dirty of [1, 2, 3, 5, 8, 13, 100, 10_000]) {
      const perSecond = (dirty * 1000) / flushIntervalFor(dirty, pacing);
      expect(perSecond, `${dirty} changed panes`).toBeLessThanOrEqual(Math.max(pacing.messagesPerSecond, dirty) + 1e-9);
    }
  });

  it('with nothing changed, waits the longest interval (dropping closed panes needs no more)', () => {
    expect(flushDue(999, 0, pacing)).toBe(false);
    expect(flushDue(1000, 0, pacing)).toBe(true);
    expect(flushDue(249, 1, pacing)).toBe(false);
    expect(flushDue(250, 1, pacing)).toBe(true);
  });

  it('a shortest interval at or above the longest one is a fixed interval, as before pacing', () => {
    const fixed = { minIntervalMs: 1000, maxIntervalMs: 200, messagesPerSecond: Infinity };
    expect(flushTickMs(fixed)).toBe(200);
    expect(flushIntervalFor(1, fixed)).toBe(200);
    expect(flushIntervalFor(10_000, fixed)).toBe(200);
  });

  it('the defaults pace at 250 ms and 8 messages per second; bad values are refused with the key', () => {
    const config = loadConfig({ env: {} });
    expect(config.panes.minFlushIntervalMs).toBe(250);
    expect(config.panes.flushMessagesPerSecond).toBe(8);
    expect(() => loadConfig({ env: {}, overrides: { panes: { flushMessagesPerSecond: 0 } } })).toThrow(/panes\.flushMessagesPerSecond/);
    expect(() => loadConfig({ env: {}, overrides: { panes: { minFlushIntervalMs: 'soon' } } })).toThrow(/panes\.minFlushIntervalMs/);
  });
});
