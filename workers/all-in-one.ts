// `npm start` (and `npm run demo` with --demo): worker + gateway in one process.
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/app/logger.ts';
import { startAllInOne } from '../src/app/all-in-one.ts';
import { failStartup, runUntilSignal } from './shutdown.ts';

const demo = process.argv.includes('--demo');
let config;
try {
  config = loadConfig();
} catch (error) {
  console.error(`driftwatch: ${(error as Error).message}`);
  process.exit(2);
}
const logger = createLogger(config, 'driftwatch');
try {
  const app = await startAllInOne(config, logger);
  let stopDemo: (() => Promise<void>) | null = null;
  if (demo) {
    const { startDemoSimulator } = await import('../src/app/demo.ts');
    stopDemo = await startDemoSimulator(app.nats.nc, logger.child({ component: 'simulator' }));
    logger.info(`demo: simulator running; covariate and latency drift start after a minute. Open ${app.gateway.url.replace('0.0.0.0', '127.0.0.1')}/v1/models or the live feed at /v1/live`);
  }
  runUntilSignal(logger, async () => {
    await stopDemo?.();
    await app.stop();
  });
} catch (error) {
  failStartup(logger, error);
}
