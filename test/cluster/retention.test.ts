import { describe, expect, it } from 'vitest';
import { checkEventsRetention, requiredEventsRetentionMs, FAILOVER_RESTART_ALLOWANCE_MS } from '../../src/cluster/retention.ts';

const needs = { checkpointIntervalMs: 5000, leaseMs: 10_000 };
const HOUR = 3600_000;

describe('DRIFT_EVENTS retention against checkpoints plus failover', () => {
  it('needs a checkpoint interval, a lease expiry and the restart allowance', () => {
    expect(requiredEventsRetentionMs(needs)).toBe(5000 + 10_000 + FAILOVER_RESTART_ALLOWANCE_MS);
  });

  it('refuses a retention shorter than that, naming the figures and the setting', () => {
    const verdict = checkEventsRetention({ maxAgeMs: 30_000, maxBytes: -1, maxMsgs: -1 }, needs, 'DRIFTWATCH_EVENTS_RETENTION');
    expect(verdict.refusal).toMatch(/^DRIFT_EVENTS keeps events for 30 s \(DRIFTWATCH_EVENTS_RETENTION\), less than a failover needs: 75 s = checkpoint.intervalMs 5 s \+ worker.leaseMs 10 s \+ 60 s/);
    // one millisecond short is still short; exactly enough is accepted
    expect(checkEventsRetention({ maxAgeMs: 74_999, maxBytes: -1, maxMsgs: -1 }, needs, 'x').refusal).not.toBeNull();
    expect(checkEventsRetention({ maxAgeMs: 75_000, maxBytes: -1, maxMsgs: -1 }, needs, 'x').refusal).toBeNull();
  });

  it('warns when a retention covers a failover but not an hour-long outage; none for the default 7 days or no age limit', () => {
    const short = checkEventsRetention({ maxAgeMs: 10 * 60_000, maxBytes: -1, maxMsgs: -1 }, needs, 'x');
    expect(short.refusal).toBeNull();
    expect(short.warnings).toEqual([expect.stringMatching(/keeps events for 600 s .*an outage of every worker longer than that loses events/)]);
    expect(checkEventsRetention({ maxAgeMs: 7 * 24 * HOUR, maxBytes: -1, maxMsgs: -1 }, needs, 'x')).toEqual({ refusal: null, warnings: [] });
    expect(checkEventsRetention({ maxAgeMs: 0, maxBytes: -1, maxMsgs: -1 }, needs, 'x')).toEqual({ refusal: null, warnings: [] });
  });

  it('warns about size limits, which give no time guarantee', () => {
    const verdict = checkEventsRetention({ maxAgeMs: 7 * 24 * HOUR, maxBytes: 1 << 30, maxMsgs: 1000 }, needs, 'x');
    expect(verdict.refusal).toBeNull();
    expect(verdict.warnings).toHaveLength(2);
    expect(verdict.warnings[0]).toMatch(/max_bytes 1073741824/);
    expect(verdict.warnings[1]).toMatch(/max_msgs 1000/);
  });
});
