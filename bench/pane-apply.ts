/**
 * The gateway's cost per pane message at steady state, alone: a WindowStore (1m, 5m, 1h windows)
 * fed the pane states of `--models` models over `--minutes` of event time, as the gateway bench's
 * publisher makes them (30 heavy-tailed features, 20 events a second per model, each model's open
 * pane flushed once a second of event time, a pane's final state once the allowed lateness has
 * passed), as fast as it applies them. The messages are encoded before they are timed; the timed loop is decode + apply.
 *
 * Figures, per `--every` minutes of event time: ms per message applied. At the end: the same over
 * the last third (steady state), and the raw limit measured in the same run, decoding the same
 * messages alone (decodePaneMessage, no windows): the ratio says how much of the cost is the windows.
 *
 *   npm run bench -- pane-apply                         10 models, 20 minutes of event time
 *   npm run bench -- pane-apply --models 300 --minutes 4 --every 1
 *   npm run bench -- pane-apply --own-centers     each pane on centers of its own, rebinned by the store
 *   npm run bench -- pane-apply --partitions 16   each model's events spread over 16 partitions (the
 *     default count), each flushing its own open pane every second: 16 messages per model and second
 *     of a dozen events' worth, as a gateway of many sparse models receives them
 *   npm run bench -- pane-apply --partitions 16 --order partition   each flush's messages applied
 *     partition by partition (every model's state of partition 0, then of 1, ...), as a gateway
 *     receives them from partitions flushing on timers of their own (default `model`: each model's
 *     partitions back to back)
 *   npm run bench -- pane-apply --partitions 16 --sparse-hold-ms 0   every partition's open pane
 *     published every second, as before panes.sparseHoldMs (default 2000: a pane with fewer than 8
 *     new events waits up to 2 s after its last publication, as a worker holds it: SparseHold)
 *   npm run bench -- pane-apply --lateness-ms 0   a pane's final state at the first flush after it
 *     ends (default 60000: panes.allowedLatenessMs, as a worker sends it; meanwhile a partition's
 *     state of an ended pane is held by the gateway, and the final one is most often the same)
 *   npm run bench -- pane-apply --models 4 --minutes 100 --partitions 16 --labels   a label for
 *     every prediction, up to --label-delay-min (30) later, each joined to its prediction's outcome
 *     pane in its partition; outcome panes open for --label-horizon-min (60, join.labelHorizonMs)
 *     after they end, as a worker keeps them. Steady state needs minutes > horizon + pane: the
 *     outcome panes' figures are printed apart (messages and ms per model-second); a changed
 *     outcome pane held --outcome-hold-ms (10000: panes.outcomeHoldMs; 0: published at the next flush)
 *   ... --labels --label-grid none   each label in its prediction's pane, open for the horizon (default
 *     coarse: as a worker counts them, a label whose prediction's coarse interval is past the
 *     windows' fine span in the interval's first pane, the others closed: ProcessorOptions.outcomeGrid)
 */
import { parseArgs } from 'node:util';
import { decodePaneMessage, encodePaneMessage } from '../src/contract/pane-codec.ts';
import { MsgpackReader } from '../src/contract/msgpack-reader.ts';
import { WindowStore } from '../src/gateway/window-store.ts';
import { DEFAULT_PANE_LIMITS } from '../src/window/pane.ts';
import { FEATURES, FLUSH_MS, PANE_MS, PartitionedPanes } from './workers/gateway-panes.ts';
import { DEFAULT_COARSE_PANE_MS, coarseGridOf, paneLayout } from '../src/window/coarse-panes.ts';
import { parseDuration } from '../src/contract/duration.ts';
import type { LabelShape } from './workers/gateway-panes.ts';
import type { SparseHold } from '../src/partition/processor.ts';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: '10' },
    minutes: { type: 'string', default: '20' },
    every: { type: 'string', default: '5' },
    rate: { type: 'string', default: '20' },
    partitions: { type: 'string', default: '1' },
    'sparse-hold-ms': { type: 'string', default: '2000' },
    'outcome-hold-ms': { type: 'string', default: '10000' },
    'own-centers': { type: 'boolean', default: false },
    labels: { type: 'boolean', default: false },
    'lateness-ms': { type: 'string', default: '60000' },
    'label-delay-min': { type: 'string', default: '30' },
    'label-horizon-min': { type: 'string', default: '60' },
    'label-grid': { type: 'string', default: 'coarse' },
    order: { type: 'string', default: 'model' },
  },
});
/**
 * Each pane's feature sketches centered on its own first values (every pane as if from a partition
 * of its own, before its model has a reference: the store rebins each sketch onto its windows'
 * buckets). Default: a model's panes share their centers, as the panes of partitions that follow
 * the model's reference do (WorkerReferences.centersFor).
 */
const ownCenters = args['own-centers'];

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`--${name} must be a positive integer, got '${text}'`);
  return value;
}

const models = positive('models', args.models);
const minutes = positive('minutes', args.minutes);
const every = positive('every', args.every);
const ratePerModel = positive('rate', args.rate);
const partitions = positive('partitions', args.partitions);
const holdMs = Number(args['sparse-hold-ms']);
if (!(holdMs >= 0)) throw new RangeError(`--sparse-hold-ms must be a number of ms >= 0, got '${args['sparse-hold-ms']}'`);
const outcomeHoldMs = Number(args['outcome-hold-ms']);
if (!(outcomeHoldMs >= 0)) throw new RangeError(`--outcome-hold-ms must be a number of ms >= 0, got '${args['outcome-hold-ms']}'`);
/** As a worker holds panes by default (config panes.sparseHoldMs, panes.sparseEvents, panes.outcomeHoldMs). */
const hold: SparseHold = { maxMs: holdMs, events: 8, outcomeMs: outcomeHoldMs };
const START = 1_700_000_000_000;

const names = Array.from({ length: models }, (_, m) => `model-${m}`);
const centers = names.map(() => (ownCenters ? null : new Map<string, number>()));
if (!['coarse', 'none'].includes(args['label-grid'])) throw new RangeError(`--label-grid must be coarse or none, got '${args['label-grid']}'`);
const WINDOWS = ['1m', '5m', '1h'];
const grid = args['label-grid'] === 'coarse' ? coarseGridOf(paneLayout(new Map(WINDOWS.map((w) => [w, parseDuration(w) as number])), DEFAULT_COARSE_PANE_MS), PANE_MS) : undefined;
const labels: LabelShape | null = args.labels
  ? { maxDelayMs: positive('label-delay-min', args['label-delay-min']) * 60_000, horizonMs: positive('label-horizon-min', args['label-horizon-min']) * 60_000, grid }
  : null;
const latenessMs = Number(args['lateness-ms']);
if (!(latenessMs >= 0)) throw new RangeError(`--lateness-ms must be a number of ms >= 0, got '${args['lateness-ms']}'`);
/**
 * The order a flush's messages are applied in: `model`, each model's partitions back to back (as
 * PartitionedPanes makes them); `partition`, every model's state of partition 0, then of partition
 * 1, ..., as a gateway receives them from partitions flushing on timers of their own.
 */
const order = args.order;
if (order !== 'model' && order !== 'partition') throw new RangeError(`--order must be model or partition, got '${order}'`);
const modelPanes = new PartitionedPanes(names, partitions, centers, hold, labels, latenessMs);

/** One flush of every model's partitions at `now` (event time), encoded (PartitionedPanes.flush); outcome states flagged. */
function flush(now: number): { bytes: Uint8Array; outcome: boolean }[] {
  const made = modelPanes.flush(now, Math.round((ratePerModel * FLUSH_MS) / 1000));
  // a stable sort: each partition's messages in model order, as one partition's flush holds them
  if (order === 'partition') made.sort((a, b) => a.message.partition - b.message.partition);
  return made.map(({ message }) => ({ bytes: encodePaneMessage(message), outcome: message.part === 'out' }));
}

console.log(
  `pane-apply bench: ${models} models x ${FEATURES} heavy-tailed features x 3 windows, ${ratePerModel} events/s per model over ${partitions} partition(s), open panes of fewer than 8 new events held ${holdMs} ms, final states ${latenessMs / 1000} s after their pane, ${minutes} min of event time, ` +
    `panes centered ${ownCenters ? 'each on its own first values (--own-centers)' : "as their model's other panes (partitions following its reference)"}` +
    (labels === null ? '' : `; a label for every prediction up to ${labels.maxDelayMs / 60_000} min later, outcome panes open ${labels.horizonMs / 60_000} min after they end, a changed one held ${outcomeHoldMs} ms, ` +
        (grid === undefined ? 'each label in its prediction\'s pane' : `past the ${grid.fineSpanMs / 60_000} min fine span in its coarse interval's first pane (${grid.coarseMs / 1000} s), as workers count them`)),
);
// one reader for every message, as the gateway's changelog consumer has
const reader = new MsgpackReader();
const store = new WindowStore({ windows: WINDOWS, limits: DEFAULT_PANE_LIMITS, maxModels: models });
const seconds = minutes * 60;
const steadyFrom = Math.floor((2 * seconds) / 3);
const steadySamples: Uint8Array[] = [];
let periodMs = 0;
let periodMessages = 0;
let messagesApplied = 0;
let steadyMs = 0;
let steadyMessages = 0;
/** The steady state's outcome states (labels): their share of the time and messages above. */
let steadyOutcomeMs = 0;
let steadyOutcomeMessages = 0;
const periods: Array<{ minute: number; msPerMessage: number }> = [];
for (let second = 0; second < seconds; second++) {
  const batch = flush(START + second * FLUSH_MS);
  const steady = second >= steadyFrom;
  let elapsed = 0;
  for (const { bytes, outcome } of batch) {
    const started = performance.now();
    store.applyPaneMessage(decodePaneMessage(bytes, reader));
    const took = performance.now() - started;
    elapsed += took;
    if (steady && outcome) {
      steadyOutcomeMs += took;
      steadyOutcomeMessages++;
    }
  }
  periodMs += elapsed;
  periodMessages += batch.length;
  messagesApplied += batch.length;
  if (steady) {
    steadyMs += elapsed;
    steadyMessages += batch.length;
    for (const { bytes } of batch) if (steadySamples.length < 20_000) steadySamples.push(bytes);
  }
  if ((second + 1) % (every * 60) === 0) {
    const msPerMessage = periodMs / periodMessages;
    periods.push({ minute: (second + 1) / 60, msPerMessage: Number(msPerMessage.toFixed(3)) });
    console.log(`  minute ${(second + 1) / 60}: ${msPerMessage.toFixed(3)} ms per message (${periodMessages} messages)`);
    periodMs = 0;
    periodMessages = 0;
  }
}

// the raw limit: the same steady-state messages decoded alone, best of 3
let rawMs = Infinity;
for (let round = 0; round < 3; round++) {
  const started = performance.now();
  for (const bytes of steadySamples) decodePaneMessage(bytes, reader);
  rawMs = Math.min(rawMs, (performance.now() - started) / steadySamples.length);
}
const steadyMsPerMessage = steadyMs / steadyMessages;
// a model's cost per second of event time: what a gateway of 300 such models spends per second
const steadyModelSeconds = (seconds - steadyFrom) * models;
const steadyMsPerModelSecond = steadyMs / steadyModelSeconds;
console.log(
  `steady state (last third, ${steadyMessages} messages): ${steadyMsPerMessage.toFixed(3)} ms per message, ${(store.rebinnedSketches / (messagesApplied * FEATURES)).toFixed(3)} of pane sketches rebinned; raw limit (decoding alone) ${rawMs.toFixed(3)} ms: ` +
    `x${(steadyMsPerMessage / rawMs).toFixed(1)} of the raw limit; ${steadyMsPerModelSecond.toFixed(3)} ms per model and second of event time: 300 models ${(30 * steadyMsPerModelSecond).toFixed(1)} % of a core`,
);
const outcomes =
  labels === null
    ? undefined
    : {
        messagesPerModelSecond: Number((steadyOutcomeMessages / steadyModelSeconds).toFixed(2)),
        msPerModelSecond: Number((steadyOutcomeMs / steadyModelSeconds).toFixed(3)),
        msPerMessage: Number((steadyOutcomeMs / Math.max(1, steadyOutcomeMessages)).toFixed(3)),
        labelsPending: modelPanes.labelsPending,
      };
if (outcomes !== undefined) {
  console.log(
    `  of which outcome states (labels): ${outcomes.messagesPerModelSecond} messages and ${outcomes.msPerModelSecond} ms per model-second (${outcomes.msPerMessage} ms per message); ` +
      `input states ${((steadyMessages - steadyOutcomeMessages) / steadyModelSeconds).toFixed(2)} messages and ${((steadyMs - steadyOutcomeMs) / steadyModelSeconds).toFixed(3)} ms per model-second`,
  );
}
console.log(JSON.stringify({ bench: 'pane-apply', models, minutes, ratePerModel, partitions, sparseHoldMs: holdMs, outcomeHoldMs, latenessMs, labels, outcomes, messagesPerModelSecond: Number((messagesApplied / (models * seconds)).toFixed(2)), steadyMsPerModelSecond: Number(steadyMsPerModelSecond.toFixed(3)), paneCenters: ownCenters ? 'own' : 'shared', rebinnedSketchShare: Number((store.rebinnedSketches / (messagesApplied * FEATURES)).toFixed(3)), periods, steadyMsPerMessage: Number(steadyMsPerMessage.toFixed(3)), rawDecodeMsPerMessage: Number(rawMs.toFixed(3)), ratioToRaw: Number((steadyMsPerMessage / rawMs).toFixed(2)) }));
