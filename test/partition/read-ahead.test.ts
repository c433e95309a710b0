import { describe, expect, it } from 'vitest';
import { READ_AHEAD_EVENTS, READ_AHEAD_MAX_BYTES, readAheadEvents } from '../../src/partition/runner.ts';
import { loadConfig } from '../../src/config/load.ts';

describe('a partition consumer read-ahead', () => {
  it('asks for READ_AHEAD_EVENTS events ahead at the default event size limit', () => {
    const config = loadConfig({ env: { NATS_URL: 'nats://127.0.0.1:4222' } });
    expect(readAheadEvents(config.limits.maxEventBytes)).toBe(READ_AHEAD_EVENTS);
    expect(READ_AHEAD_EVENTS).toBe(4096);
  });

  it('asks for fewer when events may be larger, so that what it holds stays within READ_AHEAD_MAX_BYTES', () => {
    for (const maxEventBytes of [64 * 1024, 100_000, 256 * 1024, 1024 * 1024, 2 * 1024 * 1024]) {
      const events = readAheadEvents(maxEventBytes);
      expect(events * maxEventBytes).toBeLessThanOrEqual(READ_AHEAD_MAX_BYTES);
      expect(events).toBeGreaterThan(READ_AHEAD_MAX_BYTES / maxEventBytes - 1);
    }
    expect(readAheadEvents(1024 * 1024)).toBe(256);
    // but never fewer than 64: a pull per handful of events would cost more than it saves
    expect(readAheadEvents(8 * 1024 * 1024)).toBe(64);
    expect(readAheadEvents(2 * 1024 * 1024)).toBe(128);
  });

  it('asks for no more than READ_AHEAD_EVENTS when events are small', () => {
    expect(readAheadEvents(256)).toBe(READ_AHEAD_EVENTS);
  });
});
