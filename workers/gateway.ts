// `npm run gateway`: windows, drift statistics, alerts, REST + WebSocket + /metrics. Stateless: any
// number of replicas rebuild their windows from the pane changelog.
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/app/logger.ts';
import { openProvisionedNats } from '../src/app/nats.ts';
import { startGateway } from '../src/app/gateway.ts';
import { failStartup, runUntilSignal } from './shutdown.ts';

let config;
try {
  config = loadConfig();
} catch (error) {
  console.error(`driftwatch gateway: ${(error as Error).message}`);
  process.exit(2);
}
const logger = createLogger(config, 'driftwatch-gateway');
try {
  const { nats } = await openProvisionedNats('gateway', config, logger);
  const gateway = await startGateway(nats.nc, config, logger);
  runUntilSignal(logger, async () => {
    await gateway.stop();
    await nats.close();
  });
} catch (error) {
  failStartup(logger, error);
}
