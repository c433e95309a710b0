#!/usr/bin/env -S npx tsx
// `driftwatch <command>` (npm run driftwatch -- ...): manage reference profiles through the gateway's
// REST API. The commands are in src/cli/.
import { main } from '../src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2), process.env);
