/**
 * `npm run simulate -- [options]`: publishes simulated prediction and label traffic with
 * scheduled drift to driftwatch through the publisher SDK. Parsing is in
 * src/simulator/cli-args.ts, generation in scenario.ts, pacing in run.ts; this is the process
 * around them: connection, signals, flushing on the way out.
 */
import { pino } from 'pino';
import { DriftPublisher } from '../client/index.ts';
import { connectNats } from '../cluster/connect.ts';
import { CliArgError, parseSimulatorArgs, SIMULATOR_USAGE } from '../simulator/cli-args.ts';
import { Scenario } from '../simulator/scenario.ts';
import { runSimulator } from '../simulator/run.ts';

/** Runs `npm run simulate`; returns the process exit code (0 ok, 1 runtime failure, 2 bad arguments). */
export async function runSimulateCommand(
  argv: readonly string[] = process.argv.slice(2),
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  let options;
  try {
    options = parseSimulatorArgs(argv, env);
    // Build a scenario once to check the drift schedule against the models' features before
    // touching the network: a typo in a feature name fails here, naming the drift entry.
    new Scenario({
      seed: options.seed,
      startMs: 0,
      drift: options.drift,
      models: options.models,
      labels: options.labels,
      canaryFraction: options.canaryFraction,
    });
  } catch (err) {
    if (err instanceof CliArgError || err instanceof RangeError) {
      process.stderr.write(`simulate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(SIMULATOR_USAGE);
    return 0;
  }

  const logger = pino({ name: 'simulator' });
  const nc = await connectNats({
    url: options.natsUrl,
    name: 'driftwatch-simulator',
    token: env.NATS_TOKEN,
    user: env.NATS_USER,
    pass: env.NATS_PASSWORD,
    credsFile: env.NATS_CREDS,
    nkeySeedFile: env.NATS_NKEY_SEED,
  });
  const abort = new AbortController();
  const stop = (signal: string) => {
    if (abort.signal.aborted) {
      logger.warn({ signal }, 'second signal: exiting without flushing');
      process.exit(130);
    }
    logger.info({ signal }, 'stopping: flushing pending publishes');
    abort.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let exitCode = 0;
  try {
    const publisher = await DriftPublisher.connect(nc, { maxInFlight: options.maxInFlight, partitions: options.partitions });
    try {
      await runSimulator({
        publisher,
        rate: options.rate,
        durationMs: options.durationMs,
        drift: options.drift,
        seed: options.seed,
        models: options.models,
        labels: options.labels,
        canaryFraction: options.canaryFraction,
        logger,
        signal: abort.signal,
      });
    } catch (err) {
      logger.error({ err }, 'simulator failed');
      exitCode = 1;
    }
    // close() flushes once more; its failure is reported on its own, not instead of the first.
    try {
      await publisher.close();
    } catch (err) {
      logger.error({ err }, 'flushing on close failed');
      exitCode = 1;
    }
    return exitCode;
  } catch (err) {
    logger.error({ err }, 'could not start publishing');
    return 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await nc.drain();
  }
}
