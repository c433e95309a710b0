import { describe, expect, it } from 'vitest';
import { CliArgError, DEFAULT_NATS_URL, parseSimulatorArgs, SIMULATOR_USAGE } from '../../src/simulator/cli-args.ts';

describe('parseSimulatorArgs', () => {
  it('parses the documented example', () => {
    const o = parseSimulatorArgs([
      '--rate', '500', '--duration', '120', '--drift', 'covariate@60s:feature=f0,magnitude=1',
      '--drift', 'latency@90s:magnitude=80,until=150s', '--seed', '7', '--nats', 'nats://127.0.0.1:4333',
    ]);
    expect(o).toMatchObject({ help: false, rate: 500, durationMs: 120_000, seed: 7, natsUrl: 'nats://127.0.0.1:4333' });
    expect(o.drift).toEqual([
      { kind: 'covariate', at: 60_000, feature: 'f0', magnitude: 1 },
      { kind: 'latency', at: 90_000, magnitude: 80, until: 150_000 },
    ]);
    expect(o.models).toEqual([{ kind: 'fraud' }]);
  });

  it('has defaults: 200/s, forever, NATS_URL or localhost', () => {
    const o = parseSimulatorArgs([]);
    expect(o.rate).toBe(200);
    expect(o.durationMs).toBeUndefined();
    expect(o.natsUrl).toBe(DEFAULT_NATS_URL);
    expect(parseSimulatorArgs([], { NATS_URL: 'nats://nats:4222' }).natsUrl).toBe('nats://nats:4222');
  });

  it('reads the other flags', () => {
    const o = parseSimulatorArgs([
      '--models', 'fraud,churn:churn-v3', '--label-delay', '2m', '--label-early', '0.05', '--label-never', '0.2',
      '--canary-fraction', '0.25', '--max-in-flight', '64', '--partitions', '8', '--demo',
    ]);
    expect(o.models).toEqual([{ kind: 'fraud' }, { kind: 'churn', name: 'churn-v3' }]);
    expect(o.labels).toEqual({ delayMedianMs: 120_000, earlyFraction: 0.05, neverFraction: 0.2 });
    expect(o).toMatchObject({ canaryFraction: 0.25, maxInFlight: 64, partitions: 8 });
    expect(o.drift.map((d) => d.kind)).toEqual(['covariate', 'latency']);
    expect(parseSimulatorArgs(['-h']).help).toBe(true);
    expect(SIMULATOR_USAGE).toMatch(/--drift SPEC/);
  });

  it.each([
    [['--rate', 'fast'], /--rate "fast": expected a number > 0/],
    [['--rate', '0'], /--rate "0": expected a number > 0/],
    [['--duration', 'soon'], /--duration "soon": expected a duration like 90, 90s, 2m or 500ms/],
    [['--seed', '1.5'], /--seed "1.5": expected an integer/],
    [['--drift', 'covariate@x'], /--drift: drift "covariate@x": start time: expected a duration/],
    [['--drift', 'wobble@10s'], /--drift: drift "wobble@10s": kind must be one of/],
    [['--models', 'fraud,spam'], /--models "fraud,spam": expected comma-separated kind\[:name\].*bad entry "spam"/],
    [['--models', 'churn:bad.name'], /bad name "bad.name"/],
    [['--label-never', '1.2'], /--label-never "1.2": expected a fraction between 0 and 1/],
    [['--label-early', '0.6', '--label-never', '0.5'], /--label-early plus --label-never must not exceed 1/],
    [['--max-in-flight=-3'], /--max-in-flight "-3": expected an integer >= 1/],
    [['--partitions', '2.5'], /--partitions "2.5": expected an integer >= 1/],
    [['--nats', 'http//oops'], /--nats "http\/\/oops": expected a NATS URL/],
    [['--bogus'], /Unknown option '--bogus'\. Run with --help for usage\./],
    [['--rate'], /--rate.*argument missing|argument missing.*--rate|Option '--rate <value>' argument missing/],
    [['stray'], /Unexpected argument 'stray'|positional/i],
  ])('rejects %j', (argv, message) => {
    let error: unknown;
    try {
      parseSimulatorArgs(argv);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CliArgError);
    expect((error as Error).message).toMatch(message);
  });

  it('blames NATS_URL when the bad URL came from the environment', () => {
    expect(() => parseSimulatorArgs([], { NATS_URL: 'not a url' })).toThrow(/--nats \(from NATS_URL\) "not a url"/);
  });
});
