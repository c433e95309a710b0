import type { Logger } from 'pino';

/** Ctrl-C / SIGTERM: drain and exit cleanly; a second signal exits at once. */
export function runUntilSignal(logger: Logger, stop: () => Promise<void>): void {
  let stoppingSince = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // npm and tsx forward the terminal's signal too: one Ctrl-C can arrive twice within a moment
    if (stoppingSince > 0 && Date.now() - stoppingSince < 1500) return;
    if (stoppingSince > 0) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, 'draining and shutting down');
    stop().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Errors that explain themselves (missing binary, partition mismatch, bad credentials...): no stack trace. */
const SELF_EXPLAINING = new Set(['NatsServerNotFoundError', 'PartitionMismatchError', 'StreamConfigConflictError', 'NatsConfigError', 'ConfigError', 'EventsRetentionError']);

/** Logs why start-up failed, as a user needs it, and exits non-zero. */
export function failStartup(logger: Logger, error: unknown): never {
  const err = error as Error;
  if (SELF_EXPLAINING.has(err?.name)) logger.fatal({ error: err.name }, err.message);
  else logger.fatal({ err }, err?.message ?? String(error));
  process.exit(1);
}
