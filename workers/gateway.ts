// `npm run gateway`: windows, drift statistics, alerts, REST + WebSocket + /metrics. Stateless: any
// number of replicas rebuild their windows from the pane changelog.
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/app/logger.ts';
import { openNats } from '../src/app/nats.ts';
import { startGateway } from '../src/app/gateway.ts';
import { provision } from '../src/cluster/provision.ts';
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
  const nats = await openNats(config, logger, process.env, false);
  await provision(nats.nc, {
    partitions: config.partitionsExplicit ? config.partitions.count : undefined,
    replicas: config.nats.replicas,
    logger: logger.child({ component: 'provision' }),
  });
  const gateway = await startGateway(nats.nc, config, logger);
  runUntilSignal(logger, async () => {
    await gateway.stop();
    await nats.close();
  });
} catch (error) {
  failStartup(logger, error);
}
