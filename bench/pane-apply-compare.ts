/**
 * Two builds of the gateway's pane apply compared in one process: this checkout's WindowStore and
 * the one of `--base` (another checkout of driftwatch, e.g. a git worktree of the parent commit,
 * with its own node_modules or a link to these), fed the same pane messages second by second, in
 * alternating order. On a shared machine the speed of the process moves by 10-50 % from minute to
 * minute (bench pane-apply's live pass: 2.4-3.0 ms per model-second run to run, one round 4.7): two
 * runs of pane-apply cannot tell a 10 % change, two stores taking turns on the same second of
 * messages can: against a worktree of its own commit this read 1.000 (rounds 0.970 / 1.020 /
 * 1.024), against the seventeenth session's start 0.886 (0.845 / 0.949 / 0.873). Later it leaned
 * against this checkout (1.080 against a worktree of its own commit, twenty-sixth session: its
 * pane classes also make the messages): run it both ways, each checkout once as `--base`, and
 * take sqrt(ratio this way / ratio the other way).
 *
 *   git worktree add /tmp/base HEAD~1 && ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   npm run bench -- pane-apply-compare --base /tmp/base [--models 20] [--minutes 3] [--partitions 16] [--rounds 6] [--labels]
 *
 * The messages are made once, before any is timed, by this checkout's bench publisher (its pane
 * classes are this build's: the self-comparison above shows no lean from it)
 * (bench/workers/gateway-panes.ts, as pane-apply makes them: 30 heavy-tailed features, 20 events/s
 * per model, sparse hold 2 s, final states 60 s after their pane; `--labels`: every prediction
 * labelled within 5 min, outcome panes open 10 min). Each round feeds a fresh store of each build;
 * the steady state (last third) is timed. Figures: ms per model and second of event time per round
 * and build, and base / this (the ratio this build's cost is of the base's) per round and in all.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodePaneMessage } from '../src/contract/pane-codec.ts';
import { FLUSH_MS, PartitionedPanes } from './workers/gateway-panes.ts';
import type { LabelShape } from './workers/gateway-panes.ts';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    models: { type: 'string', default: '20' },
    minutes: { type: 'string', default: '3' },
    partitions: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '6' },
    labels: { type: 'boolean', default: false },
  },
});

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`--${name} must be a positive integer, got '${text}'`);
  return value;
}

if (args.base === undefined) throw new RangeError('--base <checkout> is required: another checkout of driftwatch to compare this one with');
const baseDir = path.resolve(args.base);
const modulePath = (dir: string, file: string) => path.join(dir, 'src', file);
for (const file of ['gateway/window-store.ts', 'contract/pane-codec.ts', 'contract/msgpack-reader.ts', 'window/pane.ts']) {
  if (!existsSync(modulePath(baseDir, file))) throw new RangeError(`--base ${baseDir}: no src/${file} there (not a checkout of driftwatch?)`);
}
const models = positive('models', args.models);
const minutes = positive('minutes', args.minutes);
const partitions = positive('partitions', args.partitions);
const rounds = positive('rounds', args.rounds);
const labels: LabelShape | null = args.labels ? { maxDelayMs: 5 * 60_000, horizonMs: 10 * 60_000 } : null;
if (labels !== null && minutes * 60_000 <= 2 * (labels.horizonMs + labels.maxDelayMs)) {
  throw new RangeError(`--labels needs --minutes > ${(2 * (labels.horizonMs + labels.maxDelayMs)) / 60_000}: the steady state (last third) starts once outcome panes close as fast as they open`);
}

/** What a build gives the bench: its store, codec and reader, each from its own module graph. */
interface Build {
  name: string;
  makeStore(): { applyPaneMessage(message: unknown): void };
  decode(bytes: Uint8Array, reader: unknown): unknown;
  makeReader(): unknown;
}

async function load(name: string, dir: string): Promise<Build> {
  const url = (file: string) => pathToFileURL(modulePath(dir, file)).href;
  const [{ WindowStore }, { decodePaneMessage }, { MsgpackReader }, { DEFAULT_PANE_LIMITS }] = await Promise.all([
    import(url('gateway/window-store.ts')),
    import(url('contract/pane-codec.ts')),
    import(url('contract/msgpack-reader.ts')),
    import(url('window/pane.ts')),
  ]);
  return {
    name,
    makeStore: () => new WindowStore({ windows: ['1m', '5m', '1h'], limits: DEFAULT_PANE_LIMITS, maxModels: models }),
    decode: (bytes, reader) => decodePaneMessage(bytes, reader),
    makeReader: () => new MsgpackReader(),
  };
}

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (here === baseDir) console.log('(--base is this checkout: the figures show what the comparison itself leans by)');
const builds = [await load('base', baseDir), await load('this', here)];

const names = Array.from({ length: models }, (_, m) => `model-${m}`);
const publisher = new PartitionedPanes(names, partitions, names.map(() => new Map<string, number>()), { maxMs: 2000, events: 8, outcomeMs: 10_000 }, labels, 60_000);
const START = 1_700_000_000_000;
const seconds = minutes * 60;
const steadyFrom = Math.floor((2 * seconds) / 3);
const recorded: Uint8Array[][] = [];
for (let second = 0; second < seconds; second++) {
  recorded.push(publisher.flush(START + second * FLUSH_MS, Math.round((20 * FLUSH_MS) / 1000)).map(({ message }) => encodePaneMessage(message)));
}
const messages = recorded.reduce((sum, batch) => sum + batch.length, 0);
console.log(
  `pane-apply-compare: ${models} models x 30 features x 3 windows, ${partitions} partition(s), ${minutes} min of event time (${messages} messages)${labels === null ? '' : ', labels'}, ${rounds} rounds; base ${baseDir}, this ${here}`,
);

const perRound: Record<string, number[]> = { base: [], this: [] };
for (let round = 0; round < rounds; round++) {
  const stores = builds.map((build) => build.makeStore());
  const readers = builds.map((build) => build.makeReader());
  const timed = [0, 0];
  for (let second = 0; second < seconds; second++) {
    // alternate which build takes a second's messages first (the second one finds them in cache)
    const order = (second + round) % 2 === 0 ? [0, 1] : [1, 0];
    for (const b of order) {
      const started = performance.now();
      for (const bytes of recorded[second]) stores[b].applyPaneMessage(builds[b].decode(bytes, readers[b]));
      if (second >= steadyFrom) timed[b] += performance.now() - started;
    }
  }
  const modelSeconds = (seconds - steadyFrom) * models;
  builds.forEach((build, b) => perRound[build.name].push(Number((timed[b] / modelSeconds).toFixed(3))));
  console.log(`  round ${round + 1}: base ${perRound.base[round]} / this ${perRound.this[round]} ms per model-second: this/base ${(perRound.this[round] / perRound.base[round]).toFixed(3)}`);
}
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const ratio = sum(perRound.this) / sum(perRound.base);
const favoured = perRound.this.filter((value, round) => value < perRound.base[round]).length;
console.log(`in all: this/base ${ratio.toFixed(3)} (this build cheaper in ${favoured} of ${rounds} rounds)`);
console.log(JSON.stringify({ bench: 'pane-apply-compare', models, minutes, partitions, labels: labels !== null, rounds, base: perRound.base, this: perRound.this, ratio: Number(ratio.toFixed(3)), roundsFavouringThis: favoured }));
