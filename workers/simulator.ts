// `npm run simulate -- [options]`: simulated traffic with scheduled drift (src/app/simulate.ts).
import { runSimulateCommand } from '../src/app/simulate.ts';

runSimulateCommand().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`simulate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
