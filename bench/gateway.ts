/**
 * The gateway's cost at model × feature scale: 1 / 20 / 100 / 300 models × 30 numeric features ×
 * 3 windows (1m, 5m, 1h) with a steady publisher, and the default alert rules.
 *
 * In process, over the gateway's real units (WindowStore, ReferenceRegistry, MetricsView,
 * AlertLog, GatewaySource in STATISTICS_SLICE_MS slices): on a thread of its own (bench/workers/
 * gateway-publisher.ts, so the workers' share does not take the gateway's thread) every model's
 * current pane is folded by the real pane code (PaneInput, as a worker's processor does), and once
 * a second each model's pane state is encoded with the pane codec and queued as a changelog
 * message. A changelog consumer decodes and applies them in PANE_APPLY_SLICE_MS slices, taking
 * turns of the event loop with the statistics slices (LoopTurns; the first turn while more than
 * YIELD_WITHIN_PENDING wait) and one at least every 512 messages, as the gateway's consumer does
 * with its pull batches. Each model has a reference of 600 values per feature (about a minute of
 * traffic, as an automatic capture).
 *
 * Figures per size, over the measured seconds (after a warm-up):
 * - gateway busy: the share of wall time spent decoding + applying pane messages, in the
 *   statistics slices (GatewaySource.workMs) and answering requests, timed by the wall clock (on
 *   a loaded machine it includes time the process was preempted); process CPU (CPU time over
 *   wall time, which includes the publisher thread) beside it;
 * - RSS of the process; changelog pending (max, and at the end: growing means falling behind),
 *   the changelog keeping a pane subject's latest message alone as DRIFT_PANES does
 *   (max_msgs_per_subject: 1): a consumer behind skips the states a later one replaced before
 *   its pull batch took them (counted: "replaced on the stream"), so it falls behind by panes,
 *   not messages, and its figures age instead;
 * - freshness of the 5m drift the default rules read: for each model, sampled every 500 ms, the
 *   age of the oldest published pane message its drift does not yet reflect (0 when current),
 *   read as last computed (MetricsView.lastDrift); the sampling runs on the gateway's thread, so
 *   it is timed and printed apart (until 2026-12-06 it built each model's metrics to read their
 *   drift: 1.5-2.2 % of the thread at 300 models, up to 39 ms at a time, which REST requests
 *   waited behind and the thread's CPU share counted);
 *   and of the windows' figures, which a request reads as they are (computing the 1m and 1h drift
 *   on demand): the time from each pane message's publication to its application, p50 / p99, and
 *   from the oldest event it brings (the worker's flush interval and sparse hold come before the
 *   publication: what a user sees of the figures' age), p50 / p99;
 * - REST latency, two ways, each a request every 100 ms (round robin over models and the three
 *   windows, computing drift on demand for a pair no rule keeps fresh): in process, a timer on the
 *   gateway's thread builds the metrics and serializes them, its latency counted from when it was
 *   due (one interval after the previous one), so event-loop waits behind statistics work are
 *   included (and so is a timer's own lateness: libuv computes the poll's timeout from the loop's
 *   time before that turn's callbacks, and a timer on an idle loop can fire tens of ms late after
 *   a long callback, which an HTTP request, waking the poll, does not wait for); and over HTTP,
 *   GET /v1/models/:model/metrics?window= on the gateway's own server from a client process, on a
 *   fixed schedule whether or not the previous answer is in, its latency from when it was due to
 *   the last byte of the answer: what a dashboard or a script sees; split into the client's own
 *   lateness, its HTTP stack (fetch called to the request's headers written to the socket: undici's
 *   diagnostics channel), from then to the gateway's server reading it (the wait for its event
 *   loop) and the server's time from reading it to its answer written (hooks on the bench's server);
 * - a Prometheus scrape every 15 s (`--scrape-every`, seconds; 0: none), as config/prometheus.yml
 *   scrapes a gateway: GET /metrics of the gateway's own HTTP server (buildGateway over the same
 *   source and turns, listening on loopback), fetched from a process of its own as a Prometheus
 *   server fetches it, which collects the model gauges of every model and
 *   window (computing the drift of every pair no rule keeps fresh), sets and renders them, each in
 *   slices; its wall time and size are reported. (Through `inject`, until 2026-12-02, the 9 MB
 *   answer was assembled into a string on the gateway's own thread, which a socket's write does
 *   not do: the request behind it waited 200-340 ms, the one sample over 200 ms in REST max; a 5 ms
 *   heartbeat on the gateway's thread saw those gaps, one in another process did not.)
 * - the raw limit: decoding + applying the same pane messages into a bare WindowStore (on the same
 *   reference buckets), no statistics, timed the same way: the warm-up's messages from
 *   2 x RAW_SPAN_MS before its end to RAW_SPAN_MS before applied untimed, then those of its last
 *   RAW_SPAN_MS timed, finals included, so the timed ones mostly replace states the store holds, as
 *   the live run's do; the ratio is gateway busy over raw busy at the measured run's message rate.
 *   (Until 2026-12-05 the measured run's first 2,000 messages were timed into an empty store: most
 *   were their partition's first state of a pane and 300 models' windows were made among them,
 *   which read 1.8-3.7 cores where the run itself applied everything in less than one, x0.3-0.4.)
 * - memory (live heap after a full GC, against the budgets the README states): the gateway's heap
 *   growth over the run without the bench's own queues and the publisher's panes, per model x
 *   feature x window, with the pane states held per model and their wire bytes per pane per
 *   feature; and the worker's bytes per pane per feature (PaneInputs of 200 events, as the
 *   publisher folds them);
 * - steady-state memory: a 30 s run holds a few panes per model, while a gateway holds twice the
 *   longest window (2h of 10 s panes). So a separate store is fed 2h10m of event time of final
 *   pane states (--memory-models models, through the pane codec and the real WindowStore, as fast
 *   as it applies them), once with coarse panes (the default, 1 min) and once without (every fine
 *   pane kept: the layout before coarse panes), and its live heap is reported per model x feature
 *   and per model x feature x window, with the pane states held per model, fine and coarse; and a
 *   third time at sparse traffic (20 events/s per model over 16 partitions: panes of 12 events,
 *   each value listed one by one by its pane), with the values each window lists; a fourth time
 *   the same with a label for every prediction (outcome states per partition and pane, open for
 *   the 1 h label horizon), with the open outcome states held per model.
 *
 *   npm run bench -- gateway                  1, 20, 100, 300 models; 5 s warm-up, 30 s measured
 *   npm run bench -- gateway --quick          1, 20 models; 2 s warm-up, 5 s measured
 *   npm run bench -- gateway --models 100 --seconds 20 --rate 20
 *   npm run bench -- gateway --quick --tick 1000    GatewaySource ticking every 1000 ms
 *   npm run bench -- gateway --models 300 --memory-models 10   steady-state memory over 10 models
 *     (default 2: on the bench's heavy-tailed features a pane state costs ~20-80 ms to apply on a
 *     loaded 2-core machine, and the feed is 790 messages per model and layout)
 *   npm run bench -- gateway --memory-only     the steady-state memory alone
 *   npm run bench -- gateway --memory-only --memory-shapes sparse,sparse-labels   some shapes only
 *     (busy, busy-no-coarse, sparse, sparse-labels; each reads the same alone: the process's
 *     first-use heap is fed before any is measured)
 *   npm run bench -- gateway --models 100 --no-steady   the live run alone (no steady-state memory feed: for a profile of it)
 *   npm run bench -- gateway --models 300 --scrape-every 0   without the Prometheus scrape
 *   npm run bench -- gateway --models 300 --partitions 16 --no-copies   the messages held as views of
 *     the parts they came in until applied (not copied on arrival, as the changelog consumer does)
 *   npm run bench -- gateway --models 300 --publisher process   the publisher in a process of its own
 *     (default `thread`: a worker thread of the bench's process, sharing its V8 platform threads)
 *   npm run bench -- gateway --models 300 --partitions 16 --publisher replay   every flush of the run
 *     made on the publisher's thread before the run (its events a second apart), then posted one
 *     flush a second: the whole traffic of a load the live publisher cannot make on one core of
 *     this machine (300 models x 16 partitions: under half of it), at ~10 MB of messages a second held
 *   npm run bench -- gateway --models 300 --own-centers   each pane sketch on centers of its own (as
 *     partitions before their model has a reference), rebinned onto the windows' buckets; by default
 *     the publisher centers them on the models' reference, as a worker following the reference store
 *   npm run bench -- gateway --models 200 --partitions 16 --pin --heap-growing-percent 0   V8's own heap
 *     growth between full collections (default: config gateway.heapGrowingPercent, as the gateway's
 *     process sets it)
 *   npm run bench -- gateway --models 300 --partitions 16 --pin   (Linux, taskset) the gateway's thread on
 *     CPU 0, the publisher, the REST client and the scraper (other processes in a deployment) on the
 *     others: "on one gateway core" measured as such. The bench runs with each thread collecting its own
 *     heap (--single-threaded-gc): V8's helper threads would otherwise collect the publisher's heap on
 *     the gateway's CPU. Reports the gateway thread's CPU time (its collection included), CPU 0's use
 *     and the publisher's CPU time. `--gc concurrent`: V8's own collector instead, its helper threads on
 *     CPU 0 with the gateway (a gateway limited to one CPU), their time reported apart. Any run says when the publisher fell behind (PUBLISHER BEHIND: fewer
 *     flushes than one a second, so only that share of the traffic)
 *   npm run bench -- gateway --models 100 --partitions 16   each model's events spread over 16
 *     partitions (the default deployment), each flushing a pane of its own every second: 16 pane
 *     messages per model and second of a dozen events' worth (default 1: one message per model),
 *     but a partition's pane with fewer than 8 new events waits up to 2 s as a worker holds it by
 *     default (`--sparse-hold-ms`, 0: none waits). Events go to partitions by their id hashed, as
 *     a publisher routes them (`--spread hash`); `--spread even` gives every partition as many at
 *     every flush, so all hold and publish in step (the bench's spread until 2026-12-04: a worst
 *     case for bursts). Each partition's messages of a flush reach the gateway at a phase of their
 *     own, partition p at p/16 of the second (`--flush-phases spread`, the default), as partition
 *     runners flush on timers of their own; `--flush-phases aligned` posts every partition's at
 *     once (the bench until 2026-12-04): 2,632 messages in one go at 300 x 16, which every REST
 *     request over 60 ms of a run had waited behind
 */
import { parseArgs } from 'node:util';
import { Buffer } from 'node:buffer';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { fork, spawn } from 'node:child_process';
import type { ChildProcess, Serializable } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.ts';
import { applyHeapGrowth } from '../src/app/heap-growth.ts';
import { Registry } from 'prom-client';
import { buildGateway } from '../src/gateway/server.ts';
import { LoopTurns, PANE_APPLY_SLICE_MS, STATISTICS_SLICE_MS, TimeSlicer, YIELD_WITHIN_PENDING } from '../src/gateway/time-slice.ts';
import { decodePaneMessage, encodePaneMessage } from '../src/contract/pane-codec.ts';
import { MsgpackReader } from '../src/contract/msgpack-reader.ts';
import { MessageSlabs } from '../src/cluster/message-slabs.ts';
import type { SlabCopy } from '../src/cluster/message-slabs.ts';
import type { PaneInputWire } from '../src/contract/pane-wire.ts';
import { AlertLog } from '../src/gateway/alert-log.ts';
import { GatewaySource } from '../src/gateway/gateway-source.ts';
import { MetricsView } from '../src/gateway/metrics-view.ts';
import { ReferenceRegistry } from '../src/gateway/reference-registry.ts';
import { WindowStore, type WindowStoreOptions } from '../src/gateway/window-store.ts';
import { parseDuration } from '../src/contract/duration.ts';
import { DEFAULT_COARSE_PANE_MS, coarseGridOf, outcomePaneClosed, outcomePaneStartOf, paneLayout } from '../src/window/coarse-panes.ts';
import { profileFromWindow } from '../src/reference/profile.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, PaneOutcome, inputToWire, outcomeToWire } from '../src/window/pane.ts';
import type { FeatureCenters } from '../src/window/pane.ts';
import { FEATURES, FLUSH_MS, PANE_MS, PUBLISHER_INIT_ENV, fill, labelOf, scoreOf } from './workers/gateway-panes.ts';
import type { FlushPhases, PublishedPart, PublisherFlush, PublisherInit, PublisherReplaying } from './workers/gateway-publisher.ts';
import type { PartitionSpread } from './workers/gateway-panes.ts';
import { watchCollections } from './workers/collections.ts';
import { SINGLE_THREADED_GC, cpuTimes, helperThreadsCpuMs, otherCpus, ownThreadCpuMs, pin, processCpuMs, threadCpuMs } from './workers/pinning.ts';

const WINDOWS = ['1m', '5m', '1h'];

/** What the scraper answers for one GET /metrics. */
interface ScrapeAnswer {
  status: number;
  bytes: number;
  /** Wall time from the request to the last byte of the answer. */
  ms: number;
  /** The answer's first 200 characters, or the error, when it was not a 200. */
  head: string;
}
/**
 * The parent's end of a client process's IPC channel, as the client sources below use it (a
 * process, not a thread: see ClientProcess). Its parent gone, the client exits.
 */
const CLIENT_PORT_SOURCE = `
const parentPort = { on: (event, listener) => process.on(event, listener), postMessage: (message) => process.send(message) };
process.on('disconnect', () => process.exit(0));
`;
/** The scraper: fetches the URL it is sent and answers a ScrapeAnswer (a process of its own, as Prometheus is). */
const SCRAPER_SOURCE = `${CLIENT_PORT_SOURCE}
parentPort.on('message', async (url) => {
  const started = performance.now();
  try {
    const res = await fetch(url);
    const body = Buffer.from(await res.arrayBuffer());
    parentPort.postMessage({ status: res.status, bytes: body.length, ms: performance.now() - started, head: res.status === 200 ? '' : body.toString('utf8', 0, 200) });
  } catch (error) {
    parentPort.postMessage({ status: 0, bytes: 0, ms: performance.now() - started, head: String(error) });
  }
});
`;
/**
 * The REST client: GETs the URLs it is sent in turn, one every `everyMs` on a fixed schedule
 * whether or not the previous answer is in (as independent users do), and, told to stop, answers
 * each request's latency (ms from when it was due to the last byte of its answer) and failures.
 * A process of its own, as a dashboard or a script is (see ClientProcess).
 */
const REST_CLIENT_SOURCE = `${CLIENT_PORT_SOURCE}
let running = false;
parentPort.on('message', async (message) => {
  if (message === 'stop') { running = false; return; }
  running = true;
  const { urls, everyMs } = message;
  const latencies = [];
  // how late the client's own timer sent each request: the client's share of its latency, not the gateway's
  const lateness = [];
  // [request, when fetch was called, when its headers were written to the socket (epoch ms)]:
  // matched to when the gateway's server read it
  const sentAt = [];
  const written = new Map();
  require('node:diagnostics_channel').subscribe('undici:client:sendHeaders', ({ request }) => {
    // Node 20's undici: the headers as [name, value, ...]
    const at = request.headers.indexOf('x-bench-request');
    if (at >= 0) written.set(Number(request.headers[at + 1]), performance.timeOrigin + performance.now());
  });
  let failures = 0;
  let firstFailure = '';
  const inFlight = new Set();
  // one request untimed first: a new process's first fetch loads the HTTP client and opens the connection
  try {
    await (await fetch(urls[0])).arrayBuffer();
  } catch {}
  const started = performance.now();
  for (let k = 0; running; k++) {
    const due = started + k * everyMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (!running) break;
    lateness.push(performance.now() - due);
    const url = urls[k % urls.length];
    const request = (async () => {
      try {
        const sent = performance.timeOrigin + performance.now();
        const res = await fetch(url, { headers: { 'x-bench-request': String(k) } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error('GET ' + url + ' answered ' + res.status);
        latencies.push(performance.now() - due);
        sentAt.push([k, sent, written.get(k) ?? sent]);
        written.delete(k);
      } catch (error) {
        failures++;
        firstFailure ||= String(error);
      }
    })();
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }
  await Promise.all(inFlight);
  parentPort.postMessage({ latencies, lateness, sentAt, failures, firstFailure });
});
`;
/** What the REST client answers when stopped. */
interface RestClientAnswer {
  latencies: number[];
  /** ms from when each request was due to when the client sent it. */
  lateness: number[];
  /** [request number, when the client called fetch, when the request's headers were written to its socket (epoch ms)], for the requests answered. */
  sentAt: Array<[number, number, number]>;
  failures: number;
  firstFailure: string;
}

/**
 * A client of the gateway's HTTP server (the REST client, the scraper) in a process of its own,
 * running `source` (which talks to its parent through `parentPort`, CLIENT_PORT_SOURCE).
 * Until 2026-12-06 they were worker threads of the bench's process, where the REST client's timer
 * sent a request 24-25 ms late at p99 (300 x 16 pinned, two runs, one with its thread given
 * priority over the publisher's), the latest ones while the gateway's own requests took 36-42 ms:
 * whatever the gateway's thread holds up in its process held the client up too. In a process of
 * its own, 9-18 ms (seven runs). A dashboard or a Prometheus server is another process.
 */
class ClientProcess {
  private readonly child: ChildProcess;

  constructor(source: string) {
    this.child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.child.on('error', (error) => {
      throw error;
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('bench gateway: a client process did not start');
    return this.child.pid;
  }

  postMessage(message: unknown): void {
    this.child.send(message as Serializable);
  }

  /** The client's next message. */
  next<T>(): Promise<T> {
    return new Promise((resolve) => this.child.once('message', (message) => resolve(message as T)));
  }

  async terminate(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill();
    await exited;
  }
}
const BATCH = 512;
const REFERENCE_VALUES = 600;
const REST_EVERY_MS = 100;
const SAMPLE_EVERY_MS = 500;
/** The feature whose drift entry the sampler reads for its computedAt: the first of the bench's features. */
const SAMPLED_FEATURE = 'f0';
/** Where in the measured window the first scrape falls (see startScrapes; in the first half of a shorter window). */
const SCRAPE_PHASE_MS = 5000;
/**
 * Memory budgets the README states and this bench checks (heap bytes, after a full GC): the gateway
 * per model x feature x window (window aggregates of the all-versions and per-version keys, the
 * pane states held, the reference, the metrics and drift caches; the whole gateway heap growth
 * divided by models x features x windows), and the worker per pane per feature (a PaneInput
 * holding one 10 s pane of 200 events).
 */
const GATEWAY_BYTES_PER_MODEL_FEATURE_WINDOW_BUDGET = 16_384;
const WORKER_BYTES_PER_PANE_FEATURE_BUDGET = 4096;
/**
 * The gateway's steady-state heap per model x feature x window (windows, every pane state it holds
 * for twice the longest window, fine and coarse): what 300 models x 30 features x 3 windows must
 * fit in (300 x 30 x 3 x 64 KB = 1.7 GB).
 */
const GATEWAY_STEADY_BYTES_PER_MODEL_FEATURE_WINDOW_BUDGET = 65_536;
/** Event time the steady-state store is fed: the retention (2 x 1h) and the fine span (10 min) past it, so the oldest panes have gone. */
const HISTORY_MS = 2 * 3_600_000 + 600_000;
/** Distinct pane states the steady-state feed cycles through (each a 10 s pane of 200 events). */
const HISTORY_STATES = 12;
/** Sparse steady state: 20 events/s per model over the default 16 partitions, 12-13 events per 10 s pane. */
const SPARSE_PARTITIONS = 16;
const SPARSE_EVENTS_PER_PANE = 12;
/** A sparse pane's final state comes this long after it ends (panes.allowedLatenessMs): until then the gateway holds its last open state. */
const SPARSE_LATENESS_MS = 60_000;
/**
 * Sparse traffic with labels: every prediction labelled up to LABEL_DELAY_MS later; an outcome
 * pane (per partition) stays open for the label horizon after it ends (join.labelHorizonMs, 1 h),
 * republished as each label joins, then final.
 */
const LABEL_DELAY_MS = 1_800_000;
const LABEL_HORIZON_MS = 3_600_000;
/**
 * Worker panes built to measure one (a single pane is within the heap's noise). 200, not 20: after
 * a live run, 20 panes read 3,874-4,327 B per pane per feature over eight runs of two builds
 * (x0.95-1.06 of the budget, MEMORY OVER BUDGET in two of them) where the same panes read
 * 3,695-3,724 B in a fresh process: ~100 KB of the heap moving between the two readings.
 */
const WORKER_PANES_MEASURED = 200;
/** Below this many models the gateway's fixed heap (compiled code, first-use caches) outweighs the per-model share: printed, not checked. */
const MEMORY_CHECKED_FROM_MODELS = 20;

// a full GC before each heap reading, so the figures are live bytes, not garbage not yet collected;
// ArrayBuffers count too: a sketch's bytes on the wire (a few KB) live outside the V8 heap
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
function liveHeapBytes(): number {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    models: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    rate: { type: 'string', default: '20' },
    tick: { type: 'string' },
    'memory-models': { type: 'string' },
    'memory-shapes': { type: 'string' },
    'memory-only': { type: 'boolean', default: false },
    'no-steady': { type: 'boolean', default: false },
    'own-centers': { type: 'boolean', default: false },
    publisher: { type: 'string', default: 'thread' },
    'scrape-every': { type: 'string', default: '15' },
    partitions: { type: 'string', default: '1' },
    spread: { type: 'string', default: 'hash' },
    'flush-phases': { type: 'string', default: 'spread' },
    'sparse-hold-ms': { type: 'string', default: '2000' },
    pin: { type: 'boolean', default: false },
    gc: { type: 'string', default: 'single' },
    'heap-growing-percent': { type: 'string' },
    'no-copies': { type: 'boolean', default: false },
  },
});
const scrapeEveryMs = Number(args['scrape-every']) * 1000;
if (!(scrapeEveryMs >= 0)) throw new RangeError(`bench gateway: --scrape-every needs a number of seconds >= 0 (0: no scrape), got '${args['scrape-every']}'`);
/**
 * The publisher's panes centered each on its own first values (every pane a partition of its own,
 * before the model has a reference: each pane sketch is rebinned onto the windows' buckets) instead
 * of on the model's reference, as a worker that follows the reference store centers them.
 */
const ownCenters = args['own-centers'];
/**
 * The messages' bytes copied into MessageSlabs as they arrive and given back once applied, as the
 * gateway's changelog consumer copies them (PaneChangelogReader); `--no-copies`: held as views of
 * the parts they were posted in until applied, as the gateway did until 2026-12-06.
 */
const copyMessages = !args['no-copies'];
const publisherIn = args.publisher;
/** --pin: the gateway's thread on GATEWAY_CPU, the bench's other parts on the other CPUs (see bench/workers/pinning.ts). */
const pinned = args.pin;
const GATEWAY_CPU = 0;
/**
 * --pin's collector: `single` (default), each thread collects its own heap (--single-threaded-gc),
 * so the gateway thread's time is its whole cost; `concurrent`, V8's own (marking and sweeping on
 * its helper threads, which stay on the gateway's CPU with the process: as a gateway limited to one
 * CPU runs), their time in that CPU's busy share and reported apart. The bench's other threads'
 * heaps are then collected there too (with `--publisher replay` they allocate little).
 */
const gcMode = args.gc;
if (gcMode !== 'single' && gcMode !== 'concurrent') throw new RangeError(`bench gateway: --gc must be single or concurrent, got '${gcMode}'`);
if (gcMode === 'concurrent' && !pinned) throw new RangeError('bench gateway: --gc concurrent is a --pin mode (unpinned, V8 collects concurrently anyway)');
/** Flushes a replaying publisher makes beyond the warm-up and the measured seconds (its last ones may come late). */
const REPLAY_SPARE_FLUSHES = 3;
/** Flushes per flush interval below which the publisher did not keep up. */
const PUBLISHER_ON_TIME = 0.95;
if (pinned && gcMode === 'single' && !process.execArgv.includes(SINGLE_THREADED_GC)) {
  // the flag is V8's, read at start: the bench runs again with it (see bench/workers/pinning.ts)
  const again = spawn(process.execPath, [SINGLE_THREADED_GC, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  const [code, signal] = (await once(again, 'exit')) as [number | null, NodeJS.Signals | null];
  process.exit(code ?? (signal === null ? 1 : 128));
}
/**
 * V8's heap growth between full collections, as the gateway's process sets it (config
 * gateway.heapGrowingPercent, src/app/heap-growth.ts); `--heap-growing-percent 0`: V8's own.
 */
const heapGrowingPercent = args['heap-growing-percent'] === undefined ? loadConfig({ env: {} }).gateway.heapGrowingPercent : Number(args['heap-growing-percent']);
if (!Number.isInteger(heapGrowingPercent) || heapGrowingPercent < 0) throw new RangeError(`bench gateway: --heap-growing-percent needs a whole number >= 0 (0: V8's own growth), got '${args['heap-growing-percent']}'`);
applyHeapGrowth(heapGrowingPercent);
if (publisherIn !== 'thread' && publisherIn !== 'process' && publisherIn !== 'replay') throw new RangeError(`bench gateway: --publisher must be thread, process or replay, got '${publisherIn}'`);
const sizes = args['memory-only'] ? [] : args.models !== undefined ? [Number(args.models)] : args.quick ? [1, 20] : [1, 20, 100, 300];
const seconds = Number(args.seconds ?? (args.quick ? 5 : 30));
const warmupSeconds = Number(args.warmup ?? (args.quick ? 2 : 5));
const ratePerModel = Number(args.rate);
/** Partitions each model's events are spread over in the live run (1: one pane message per model and second). */
const partitions = Number(args.partitions);
/** How (PartitionedPanes' `spread`): by each event's id hashed, as publishers route events, or evenly (every partition in step). */
const spreadArg = args.spread;
if (spreadArg !== 'hash' && spreadArg !== 'even') throw new RangeError(`bench gateway: --spread must be hash or even, got '${spreadArg}'`);
const spread: PartitionSpread = spreadArg;
/** When the partitions' flushes reach the gateway within each second (PublisherInit's flushPhases): each at its own phase, or all at once. */
const flushPhasesArg = args['flush-phases'];
if (flushPhasesArg !== 'spread' && flushPhasesArg !== 'aligned') throw new RangeError(`bench gateway: --flush-phases must be spread or aligned, got '${flushPhasesArg}'`);
const flushPhases: FlushPhases = flushPhasesArg;
/** As a worker holds an open pane of fewer than 8 new events by default (panes.sparseHoldMs): 0, none waits. */
const sparseHoldMs = Number(args['sparse-hold-ms']);
if (!(sparseHoldMs >= 0)) throw new Error(`--sparse-hold-ms must be a number of ms >= 0, got ${String(args['sparse-hold-ms'])}`);
/** GatewaySource's tick (how often changed models are collected); default: the gateway's own default. */
const tickMs = args.tick === undefined ? undefined : Number(args.tick);
/** The steady-state shapes fed, in this order (--memory-shapes): each alone reads as it does after the others (see warmUpSteadyState). */
const MEMORY_SHAPES = ['busy', 'busy-no-coarse', 'sparse', 'sparse-labels'] as const;
type MemoryShape = (typeof MEMORY_SHAPES)[number];
const memoryShapes = (args['memory-shapes'] ?? MEMORY_SHAPES.join(',')).split(',').map((shape) => {
  if (!(MEMORY_SHAPES as readonly string[]).includes(shape)) throw new Error(`--memory-shapes: unknown shape '${shape}' (expected a comma-separated list of ${MEMORY_SHAPES.join(', ')})`);
  return shape as MemoryShape;
});
const memoryModels = Number(args['memory-models'] ?? (args.quick ? 1 : 2));
if (!(Number.isInteger(memoryModels) && memoryModels > 0)) throw new Error(`--memory-models must be a positive whole number, got ${String(args['memory-models'])}`);
if (tickMs !== undefined && !(tickMs > 0)) throw new Error(`--tick must be a positive number of ms, got ${String(args.tick)}`);
if (!(Number.isInteger(partitions) && partitions >= 1 && partitions <= 1024)) throw new Error(`--partitions must be a whole number in [1, 1024], got ${String(args.partitions)}`);
for (const [name, value] of [['models', sizes[0] ?? 1], ['seconds', seconds], ['warmup', warmupSeconds], ['rate', ratePerModel]] as const) {
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`--${name} must be a positive number, got ${String(value)}`);
}

const silent = pino({ level: 'silent' });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface Published {
  pub: number;
  /** When the oldest event the message brings arrived (PublishedPart's PublishedPane.oldest). */
  oldest: number;
  applied?: number;
}

/** A pane message on the bench's changelog. */
interface Queued {
  bytes: Uint8Array;
  /** The copy `bytes` is (MessageSlabs), given back once the message is applied or skipped; null with --no-copies. */
  copy: SlabCopy | null;
  model: number;
  item: Published;
  final: boolean;
  subject: string;
  /** In the consumer's pull batch: delivered, no longer replaced on the stream. */
  pulled: boolean;
  /** Replaced on the stream by a later state of its pane before it was pulled: skipped. */
  replaced: boolean;
  /** Messages this one replaced, whose figures it carries: applied when it is. */
  carries: Published[] | null;
}

interface SizeResult {
  models: number;
  features: number;
  windows: number;
  eventsPerSecond: number;
  paneMessagesPerSecond: number;
  /** Share of wall time the gateway's work held the event loop (wall clock: includes preemption on a loaded machine). */
  gatewayBusy: number;
  /** The part of gatewayBusy applying pane messages from the changelog (wall clock). */
  applyBusy: number;
  /** The part of gatewayBusy in the statistics slices: rules, drift, announcements (GatewaySource.workMs). */
  statisticsBusy: number;
  /** Models evaluated per second (rules and announcement: GatewaySource.evaluatedModels). */
  modelEvaluationsPerSecond: number;
  /** Process CPU time over wall time: the gateway's work plus the publisher thread. */
  processCpu: number;
  /** --pin: the gateway thread's own CPU time over wall time (null unpinned). */
  gatewayThreadCpu: number | null;
  /** --pin: the CPU time of the process's threads on the gateway's CPU other than the gateway's (V8's and libuv's helpers) over wall time; null unpinned. */
  helperThreadsCpu: number | null;
  /** --pin: the share of the gateway's CPU used by anything (its thread, V8's helper threads, other processes); null unpinned. */
  gatewayCpuBusy: number | null;
  /**
   * --pin: the publisher's CPU time over wall time (its thread's, or its process's), its own heap's
   * collection included; null unpinned. Whether it kept up is publisherFlushesPerSecond: its
   * collection's pauses held it back at 65-75 % of its core.
   */
  publisherCpu: number | null;
  /**
   * The publisher's flushes per flush interval while measuring (1: on time). Below, each flush
   * still adds a second's events: the load was that share of the models' traffic.
   */
  publisherFlushesPerSecond: number;
  rawCpu: number;
  ratioToRaw: number;
  rssMB: number;
  /** Of rssMB, the raw limit's recorded messages (held through the measured run, not the gateway's). */
  rawRecordingMB: number;
  pendingMax: number;
  pendingEnd: number;
  /** Pane messages replaced on the changelog by a later state of their pane before the consumer pulled them (measured seconds). */
  replacedOnStream: number;
  freshness5mP50Ms: number;
  freshness5mP99Ms: number;
  /**
   * Freshness of the windows' figures (counts, rates, quantiles of every window, and the drift a
   * request computes on demand for the 1m and 1h windows no rule keeps fresh): the time from a
   * pane message's publication to its application, p50 / p99.
   */
  windowFreshnessP50Ms: number;
  windowFreshnessP99Ms: number;
  /**
   * The same from the oldest event a message brings (its arrival at a worker) to its application,
   * p50 / p99: the worker's flush interval and sparse hold (up to 1 s + 2 s) before the gateway's
   * lag, what a user sees of how old the figures are.
   */
  eventAgeP50Ms: number;
  eventAgeP99Ms: number;
  /** The requests' own work (p50 / p99), without their wait for the event loop. */
  restHandlerP50Ms: number;
  restHandlerP99Ms: number;
  restP50Ms: number;
  restP99Ms: number;
  /** GET /v1/models/:model/metrics over loopback HTTP from a client process, a request every REST_EVERY_MS. */
  restHttpP50Ms: number;
  restHttpP99Ms: number;
  restHttpMaxMs: number;
  /** The REST client's own timer: how late it sent a request, p99 (ms; in the latencies above, not the gateway's doing). */
  restHttpClientLateP99Ms: number;
  /** From fetch called to the request's headers written to its socket (the client's HTTP stack), p99 (ms). */
  restHttpClientSendP99Ms: number;
  /** From the request written to the gateway's server reading it (its wait for the event loop), p50 / p99 (ms). */
  restHttpWaitP50Ms: number;
  restHttpWaitP99Ms: number;
  /** From the request written to its answer written: the gateway's part of the latency (the two above together, request by request), p99 (ms). */
  restHttpAtGatewayP99Ms: number;
  /** From the server reading a request to its answer written, p50 / p99 (ms). */
  restHttpServedP50Ms: number;
  restHttpServedP99Ms: number;
  restHttpRequests: number;
  /**
   * The slowest request: a block of the event loop delays every request arriving during it, but
   * the bench's timer fires once after it, so a long block is one sample however long it lasts.
   */
  restMaxMs: number;
  /** Prometheus scrapes during the measured seconds; the longest one's wall time; its text's size (0 without a scrape). */
  scrapes: number;
  scrapeMaxMs: number;
  scrapeBytes: number;
  /** The bench's own sampling of changelog pending and drift freshness, on the gateway's thread (in its CPU share, not in busy): its share of the wall, its longest run. */
  samplerShare: number;
  samplerMaxMs: number;
  /** The gateway thread's scavenges and full collections while measuring (V8's GC entries: their count and time; a full collection's is its final pause). */
  scavenges: number;
  scavengeMs: number;
  fullCollections: number;
  fullCollectionMs: number;
  driftComputations: number;
  /** Pane sketches the gateway moved onto its windows' buckets, per numeric feature of a pane message applied (0: the panes share the reference's centers). */
  rebinnedSketchShare: number;
  /** Partition input states the gateway wrote into an array it had let go (StateBytePool), per state held over the run. */
  stateArraysReusedShare: number;
  /** The windows' bucket arrays in the models' arenas (CountsArena): their bytes, the share of them free, and the compactions over the run. */
  arenaBytesPerModel: number;
  arenaFreeShare: number;
  arenaCompactions: number;
  /** Slabs made for the messages' copies (MessageSlabs), and messages too large to copy; null with --no-copies. */
  messageSlabsMade: number | null;
  messagesNotCopied: number | null;
  backlogMaxModels: number;
  /** Gateway heap growth (live bytes) per model x feature x window, and its ratio to the budget. */
  gatewayBytesPerModelFeatureWindow: number;
  gatewayMemoryRatioToBudget: number;
  /** Pane states the gateway held per model at the end, and their wire bytes per pane per feature. */
  heldPanesPerModel: number;
  heldPaneWireBytesPerFeature: number;
  /** Worker: live bytes of one pane (PaneInput, 200 events) per feature, and its ratio to the budget. */
  workerBytesPerPaneFeature: number;
  workerMemoryRatioToBudget: number;
}

/** Live heap bytes of `models` worker panes of 30 features, each holding 200 events (a 10 s pane at 20 events/s). */
function workerPaneBytes(models: number): number {
  const before = liveHeapBytes();
  const panes: PaneInput[] = [];
  for (let m = 0; m < models; m++) {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS);
    fill(pane, 200, m * 200);
    panes.push(pane);
  }
  const bytes = liveHeapBytes() - before;
  if (panes.length !== models) throw new Error('panes were not kept'); // keeps them alive until measured
  return bytes / models;
}

/** The raw limit's store is fed the warm-up's messages of one such span untimed, then timed on the next, its last. */
const RAW_SPAN_MS = 3000;
/**
 * Bytes the raw limit's messages are copied into (one array made before the run: copies of their
 * own, ~13,000 of ~4 KB at 300 models over 16 partitions, were new memory outside the heap in the
 * warm-up, which the gateway's collector paid for into the measured run); recording stops when full.
 */
const RAW_RECORD_BYTES = 128 << 20;
/** Non-final messages of the measured run whose mean size is reported (wire bytes per pane per feature). */
const WIRE_SAMPLES = 2000;

/** Pane messages copied end to end into one array: where each starts, and the first of the timed span. */
interface RawRecording {
  bytes: Uint8Array;
  /** Message k is bytes[ends[k - 1] (0 for the first), ends[k]). */
  ends: number[];
  /** The first message of the timed span (ends.length while the untimed one is recorded). */
  timedFrom: number;
}

/**
 * Mean ms to decode and apply a timed message of `recording` into a bare store on the gateway's
 * reference buckets, after the untimed ones (the store then holds the partitions' open states the
 * timed ones replace). A function of its own, so the store is garbage once it returns.
 */
function rawApplyMs(recording: RawRecording, models: number, referenceBuckets: WindowStoreOptions['referenceBuckets']): number {
  const raw = new WindowStore({ windows: WINDOWS, limits: DEFAULT_PANE_LIMITS, maxModels: Math.max(models, 1), referenceBuckets });
  const reader = new MsgpackReader();
  const { bytes, ends, timedFrom } = recording;
  // a copy per message, as the gateway's consumer gets each message in bytes of its own
  const apply = (k: number): void => raw.applyPaneMessage(decodePaneMessage(bytes.slice(k === 0 ? 0 : ends[k - 1], ends[k]), reader));
  for (let k = 0; k < timedFrom; k++) apply(k);
  // the run's heap (GBs) collected now, not within the second or so timed
  collectGarbage();
  const started = performance.now();
  for (let k = timedFrom; k < ends.length; k++) apply(k);
  return ends.length > timedFrom ? (performance.now() - started) / (ends.length - timedFrom) : 0;
}

async function runSize(models: number): Promise<SizeResult> {
  const config = loadConfig({ env: {} });
  const heapBaseline = liveHeapBytes();
  const references = new ReferenceRegistry({ autoCaptureMs: 0, logger: silent });
  // as the gateway composes them: a feature's windows on its reference's buckets
  const referenceBuckets: WindowStoreOptions['referenceBuckets'] = (model, feature) => references.featureBuckets(model, feature);
  const windows = new WindowStore({ windows: WINDOWS, limits: DEFAULT_PANE_LIMITS, maxModels: Math.max(models, 1), referenceBuckets });
  const view = new MetricsView(windows, references, { overrides: {}, falseAlarmsPerMillion: config.drift.falseAlarmsPerMillion });
  const alerts = new AlertLog({ rules: config.alerts.rules, logger: silent, falseAlarmsPerMillion: config.drift.falseAlarmsPerMillion });
  const turns = new LoopTurns();
  const source = new GatewaySource({ windows, references, view, alerts }, { sliceMs: STATISTICS_SLICE_MS, tickMs, turns });
  const names = Array.from({ length: models }, (_, m) => `model-${m}`);

  // a reference of REFERENCE_VALUES per feature, from a pane folded the same way
  const referenceStore = new WindowStore({ windows: ['1m'], limits: DEFAULT_PANE_LIMITS, maxModels: 1 });
  const referencePane = new PaneInput(DEFAULT_PANE_LIMITS);
  fill(referencePane, REFERENCE_VALUES, 1_000_000);
  referenceStore.applyPaneMessage({ model: 'ref', version: 'v1', partition: 0, paneStart: 0, paneMs: PANE_MS, part: 'in', seq: 0, state: inputToWire(referencePane), final: true });
  const aggregate = referenceStore.aggregateRange('ref', 0, PANE_MS);
  if (aggregate === undefined) throw new Error('reference aggregate missing');
  for (const model of names) references.setReference(profileFromWindow(`ref-${model}`, model, null, 'window', aggregate.input, aggregate.outcome, 0, PANE_MS));
  // what a worker following the reference store centers its panes' feature sketches on (WorkerReferences.centersFor)
  const referenceCenters: Array<[string, number]> = [];
  for (const [name, summary] of aggregate.input.features) if (summary.numeric !== null) referenceCenters.push([name, summary.numeric.center]);

  // gateway busy time: the changelog consumer and the requests here, the statistics slices in GatewaySource.workMs
  const busyMs = { apply: 0, requests: 0 };
  const timed = <T>(kind: keyof typeof busyMs, work: () => T): T => {
    const started = performance.now();
    try {
      return work();
    } finally {
      busyMs[kind] += performance.now() - started;
    }
  };
  // the changelog: encoded pane messages, applied in batches by a consumer loop. As DRIFT_PANES
  // (max_msgs_per_subject: 1), it keeps a pane subject's latest message alone: a later state of a
  // pane replaces one the consumer has not pulled yet (a consumer behind skips the states a newer
  // one replaced, as JetStream never delivers a deleted message); one in its pull batch stays
  // `queue` from `head` on: consumed messages are left behind the head and cut off now and then
  // (shift() moved the whole array when V8 could not move its start: a large array, or while the
  // collector marks), and a pull batch is marked from where the last one stopped. Both, scanning
  // from the front for each batch and shifting, were ~4 % of the gateway's thread at 300 models x
  // 16 partitions, time a gateway's consumer does not spend (JetStream keeps the stream).
  const queue: Queued[] = [];
  let head = 0;
  /** Messages from `head` up to here were looked at by a pull batch's marking. */
  let markedUpTo = 0;
  /** Pulled messages not consumed yet (marked, at or after `head`). */
  let pulledAhead = 0;
  const unpulled = new Map<string, Queued>();
  let replacedMessages = 0;
  /** Replaced messages still in `queue` (skipped when reached): not pending. */
  let replacedQueued = 0;
  const pendingCount = (): number => queue.length - head - replacedQueued;
  // per non-final pane message applied while measuring: the time from its publication to its application
  const applyLags: number[] = [];
  // per non-final pane message reflected while measuring (applied, or carried by the message that
  // replaced it): the age of the oldest event it brings when the gateway has applied it
  const eventAges: number[] = [];
  const unreflected: Published[][] = names.map(() => []);
  // the raw limit's messages, finals included (copies: a view would keep its whole 64 KB part
  // alive): two spans of the warm-up's end, fed untimed, then timed (a warm-up shorter than
  // 2 x RAW_SPAN_MS feeds fewer messages untimed, or none; a timed span left empty, with no warm-up
  // or an array filled first, reads 0)
  const rawRecording: RawRecording = { bytes: new Uint8Array(RAW_RECORD_BYTES), ends: [], timedFrom: 0 };
  let rawRecordingOn = false;
  // the measured run's messages, finals included (the raw limit's rate), and the bytes of its first
  // non-final ones (their wire size)
  let publishedWithFinals = 0;
  let sampledWireBytes = 0;
  let sampledNonFinal = 0;
  // as the gateway's changelog consumer (PaneChangelogReader): its TimeSlicer, sharing the event
  // loop's turns with the statistics slices, a turn at least every pull batch
  const slicer = new TimeSlicer(PANE_APPLY_SLICE_MS, { yieldWithinBacklog: YIELD_WITHIN_PENDING, turns });
  let consuming = false;
  // one reader for every message, as the gateway's changelog consumer has, and its copies' slabs
  const reader = new MsgpackReader();
  const slabs = copyMessages ? new MessageSlabs() : null;
  const consume = async (): Promise<void> => {
    consuming = true;
    let inBatch = 0;
    while (head < queue.length) {
      if (inBatch === 0) {
        // a pull batch: these are delivered, whatever comes after them. BATCH messages not replaced
        // (those are skipped on the stream, not delivered): counting the replaced ones too left the
        // batch's last messages unmarked, consumed, then counted as replaced by a later state, and
        // the pending count went below zero. Those pulled already (a batch cut short by a pause) count
        let k = Math.max(markedUpTo, head);
        for (let marked = pulledAhead; k < queue.length && marked < BATCH; k++) {
          const entry = queue[k];
          if (entry.replaced) continue;
          entry.pulled = true;
          marked++;
          pulledAhead++;
          if (unpulled.get(entry.subject) === entry) unpulled.delete(entry.subject);
        }
        markedUpTo = k;
      }
      const next = queue[head++];
      if (head >= 4096 && head * 2 >= queue.length) {
        queue.splice(0, head);
        markedUpTo = Math.max(0, markedUpTo - head);
        head = 0;
      }
      if (next.replaced) {
        replacedQueued--;
        next.copy?.release();
        continue;
      }
      if (next.pulled) pulledAhead--;
      // the message's bytes as PaneChangelogReader decodes msg.data: its copy in a slab (--no-copies: a view of its part)
      timed('apply', () => windows.applyPaneMessage(decodePaneMessage(next.bytes, reader)));
      next.copy?.release();
      next.item.applied = Date.now();
      for (const carried of next.carries ?? []) {
        carried.applied = next.item.applied;
        if (measuring) eventAges.push(carried.applied - carried.oldest);
      }
      if (measuring && !next.final) {
        applyLags.push(next.item.applied - next.item.pub);
        eventAges.push(next.item.applied - next.item.oldest);
      }
      const pause = slicer.pause(pendingCount());
      if (pause !== undefined) {
        inBatch = 0;
        await pause;
      } else if (++inBatch >= BATCH) {
        inBatch = 0;
        await new Promise((resolve) => setImmediate(resolve)); // the next pull batch's round trip
      }
    }
    consuming = false;
  };
  const scheduleConsumer = (): void => {
    if (!consuming) void consume();
  };

  // the publisher thread: each model's current pane, flushed once a second as a worker does; the
  // closed pane's last state comes marked final (the gateway folds it) and is not a freshness sample
  let published = 0;
  // the publisher's flushes while measuring: fewer than one a flush interval, it could not keep
  // up, and made fewer events than the models send
  let flushes = 0;
  let measuring = false;
  // --pin: every thread of this process on the gateway's CPU; the others are moved off it as they report
  const others = pinned ? otherCpus(GATEWAY_CPU) : '';
  // the bench's own threads moved off the gateway's CPU (the publisher's; the clients are processes, pinned whole)
  const benchThreads = new Set<number>();
  if (pinned) pin(process.pid, String(GATEWAY_CPU), true);
  // --publisher replay: every flush of the run made before it starts (and a few to spare)
  const replaySeconds = publisherIn === 'replay' ? warmupSeconds + seconds + REPLAY_SPARE_FLUSHES : undefined;
  const publisherInit: PublisherInit = { models, ratePerModel, centers: ownCenters ? null : referenceCenters, partitions, spread, sparseHoldMs, flushPhases, reportThreadId: pinned, replaySeconds };
  let replayed: PublisherReplaying['replaying'] | null = null;
  let replaying: () => void = () => {};
  const replayStarted = new Promise<void>((resolve) => (replaying = resolve));
  const publisher =
    publisherIn !== 'process'
      ? new Worker(new URL('./workers/gateway-publisher.mjs', import.meta.url), { workerData: publisherInit, execArgv: [] })
      : fork(fileURLToPath(new URL('./workers/gateway-publisher.ts', import.meta.url)), [], {
          execArgv: ['--import', 'tsx'],
          serialization: 'advanced',
          env: { ...process.env, [PUBLISHER_INIT_ENV]: JSON.stringify(publisherInit) },
        });
  const stopPublisher = async (): Promise<void> => {
    if (publisher instanceof Worker) await publisher.terminate();
    else if (publisher.exitCode === null) {
      const exited = new Promise((resolve) => publisher.once('exit', resolve));
      publisher.kill();
      await exited;
    }
  };
  publisher.on('error', (error) => {
    throw error;
  });
  if (pinned && !(publisher instanceof Worker) && publisher.pid !== undefined) pin(publisher.pid, others, true);
  // --pin: the publisher's CPU time, its thread's or its process's (null: not known yet)
  let publisherCpuMs: (() => number) | null = pinned && !(publisher instanceof Worker) && publisher.pid !== undefined ? processCpuMs.bind(null, publisher.pid) : null;
  publisher.on('message', (batch: PublishedPart | PublisherFlush | PublisherReplaying | { tid: number }) => {
    if ('flushAt' in batch) {
      if (measuring) flushes++;
      return;
    }
    if ('replaying' in batch) {
      replayed = batch.replaying;
      replaying();
      return;
    }
    if (!('panes' in batch)) {
      pin(batch.tid, others);
      benchThreads.add(batch.tid);
      publisherCpuMs = threadCpuMs.bind(null, batch.tid);
      return;
    }
    for (const { model, subject, offset, length, pub, oldest, final } of batch.panes) {
      // a Buffer view into its 64 KB part, as the NATS client hands a message its socket read: a
      // Buffer's slice() is a view where a Uint8Array's (what a posted part arrives as) copies, so
      // fed Uint8Arrays the bench did not see the reads a "copy" kept alive (src/contract/bytes.ts)
      const view = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset + offset, length);
      // copied as it arrives, as the changelog consumer copies what the client hands it
      const copy = slabs?.copy(view) ?? null;
      const bytes = copy?.bytes ?? view;
      const item: Published = final ? { pub, oldest, applied: pub } : { pub, oldest };
      const entry: Queued = { bytes, copy, model, item, final, subject, pulled: false, replaced: false, carries: null };
      const earlier = unpulled.get(subject);
      if (earlier !== undefined) {
        earlier.replaced = true;
        replacedQueued++;
        if (measuring) replacedMessages++;
        entry.carries = [...(earlier.carries ?? []), earlier.item];
      }
      unpulled.set(subject, entry);
      queue.push(entry);
      if (measuring) publishedWithFinals++;
      if (measuring && !final && sampledNonFinal < WIRE_SAMPLES) {
        sampledWireBytes += bytes.length;
        sampledNonFinal++;
      }
      if (rawRecordingOn) {
        const at = rawRecording.ends.at(-1) ?? 0;
        if (at + bytes.length <= rawRecording.bytes.length) {
          rawRecording.bytes.set(bytes, at);
          rawRecording.ends.push(at + bytes.length);
        } else rawRecordingOn = false;
      }
      if (final) continue;
      unreflected[model].push(item);
      if (measuring) published++;
    }
    scheduleConsumer();
  });

  // requests and freshness samples
  const restLatencies: number[] = [];
  // the request's own work (building the metrics, drift on demand included), without the wait for its turn
  const restHandlerMs: number[] = [];
  const freshness: number[] = [];
  let restIndex = 0;
  let pendingMax = 0;
  let backlogMax = 0;
  source.start();
  let lastFired = performance.now();
  const rest = setInterval(() => {
    // due one interval after the previous request: a later start is time spent waiting for the event loop
    const due = Math.min(performance.now(), lastFired + REST_EVERY_MS);
    lastFired = performance.now();
    const model = names[restIndex % models];
    const window = WINDOWS[Math.floor(restIndex / models) % WINDOWS.length];
    restIndex++;
    const handlerStarted = performance.now();
    timed('requests', () => JSON.stringify(source.getMetrics(model, window)));
    if (measuring) {
      restLatencies.push(Math.max(0, performance.now() - due));
      restHandlerMs.push(performance.now() - handlerStarted);
    }
  }, REST_EVERY_MS);
  const http = await buildGateway({ source, registry: new Registry(), turns, logger: false });
  // when the server read each REST request and when its answer was written (epoch ms, the client's
  // clock too: both processes' performance.timeOrigin + now()), by the client's request number
  const served = new Map<string, [number, number]>();
  const readAt = new WeakMap<object, number>();
  http.addHook('onRequest', (request, _reply, done) => {
    readAt.set(request, performance.timeOrigin + performance.now());
    done();
  });
  http.addHook('onResponse', (request, _reply, done) => {
    const id = request.headers['x-bench-request'];
    const read = readAt.get(request);
    if (typeof id === 'string' && read !== undefined) served.set(id, [read, performance.timeOrigin + performance.now()]);
    done();
  });
  const baseUrl = await http.listen({ host: '127.0.0.1', port: 0 });
  const metricsUrl = `${baseUrl}/metrics`;
  // the same round robin over models and windows as the in-process requests
  const restUrls = WINDOWS.flatMap((window) => names.map((name) => `${baseUrl}/v1/models/${encodeURIComponent(name)}/metrics?window=${window}`));
  const restClient = new ClientProcess(REST_CLIENT_SOURCE);
  const scraper = scrapeEveryMs > 0 ? new ClientProcess(SCRAPER_SOURCE) : undefined;
  // every thread of theirs off the gateway's CPU (a process spawned inherits the affinity of its parent's thread)
  if (pinned) for (const client of [restClient, scraper]) if (client !== undefined) pin(client.pid, others, true);
  const scrapes: Array<{ wallMs: number; bytes: number }> = [];
  const scrape = async (): Promise<void> => {
    if (scraper === undefined) return;
    const answer = scraper.next<ScrapeAnswer>();
    scraper.postMessage(metricsUrl);
    const { status, bytes, ms, head } = await answer;
    if (status !== 200) throw new Error(`bench gateway: GET /metrics answered ${status}: ${head}`);
    if (measuring) scrapes.push({ wallMs: ms, bytes });
  };
  let scraping: Promise<void> = Promise.resolve();
  // started with the warm-up (below), at a phase that puts a scrape SCRAPE_PHASE_MS into the measured
  // window: every run measures as many scrapes (3 in the default 40 s), as a Prometheus scraping
  // every 15 s does in the worst 40 s. Started with the bench, the phase followed how long the replay
  // took to make, and runs measured 2 or 3 scrapes: a third of a scrape's work more or less, which
  // at 300 x 16 tipped runs of the same build either way
  let scrapeTimer: NodeJS.Timeout | undefined;
  let scrapeStart: NodeJS.Timeout | undefined;
  const startScrapes = (firstInMs: number): void => {
    if (scrapeEveryMs <= 0) return;
    scrapeStart = setTimeout(() => {
      scraping = scrape();
      scrapeTimer = setInterval(() => (scraping = scrape()), scrapeEveryMs);
    }, firstInMs);
  };
  // the bench's own sampling runs on the gateway's thread: timed, and reported apart
  let samplerMs = 0;
  let samplerMaxMs = 0;
  const sampler = setInterval(() => {
    if (!measuring) return;
    const sampleStarted = performance.now();
    pendingMax = Math.max(pendingMax, pendingCount());
    backlogMax = Math.max(backlogMax, source.backlog().models);
    const now = Date.now();
    for (let m = 0; m < models; m++) {
      // the 5m drift as last computed, not the model's metrics built around it (a read as a rule's
      // would build them: up to 39 ms for 300 models twice a second, which REST requests waited behind)
      const drift = view.lastDrift(names[m], '5m');
      // its first feature's entry (what Object.values(...)[0] read) by name: Object.values made an
      // array of 30 entries for each of 300 models twice a second, on the gateway's thread
      const entry = drift === undefined ? undefined : drift.features[SAMPLED_FEATURE];
      const computedAt = entry?.computedAt ?? -Infinity;
      const pending = unreflected[m];
      while (pending.length > 0 && pending[0].applied !== undefined && pending[0].applied <= computedAt) pending.shift();
      freshness.push(pending.length > 0 ? now - pending[0].pub : 0);
    }
    const sampleMs = performance.now() - sampleStarted;
    samplerMs += sampleMs;
    samplerMaxMs = Math.max(samplerMaxMs, sampleMs);
  }, SAMPLE_EVERY_MS);

  if (replaySeconds !== undefined) {
    await replayStarted;
    const made = replayed as PublisherReplaying['replaying'] | null;
    if (made !== null) console.log(`  ${models} models: replaying ${made.flushes} flushes, ${made.messages} pane messages (${(made.bytes / 1e6).toFixed(0)} MB), made in ${(made.madeInMs / 1000).toFixed(1)} s`);
  }
  startScrapes((warmupSeconds * 1000 + Math.min(SCRAPE_PHASE_MS, seconds * 500)) % Math.max(1, scrapeEveryMs));
  const rawWarmStart = setTimeout(() => (rawRecordingOn = true), Math.max(0, warmupSeconds * 1000 - 2 * RAW_SPAN_MS));
  const rawTimedStart = setTimeout(() => (rawRecording.timedFrom = rawRecording.ends.length), Math.max(0, warmupSeconds * 1000 - RAW_SPAN_MS));
  await sleep(warmupSeconds * 1000);
  clearTimeout(rawWarmStart);
  clearTimeout(rawTimedStart);
  rawRecordingOn = false;
  measuring = true;
  const restAnswer = restClient.next<RestClientAnswer>();
  restClient.postMessage({ urls: restUrls, everyMs: REST_EVERY_MS });
  const computationsBefore = view.computations;
  const rebinnedBefore = windows.rebinnedSketches;
  busyMs.apply = 0;
  busyMs.requests = 0;
  const workBefore = source.workMs;
  const evaluationsBefore = source.evaluatedModels;
  const cpuBefore = process.cpuUsage();
  const threadCpuBefore = pinned ? ownThreadCpuMs() : 0;
  const helpersCpuBefore = pinned ? helperThreadsCpuMs(benchThreads) : 0;
  const gatewayCpuBefore = pinned ? cpuTimes(GATEWAY_CPU) : null;
  const publisherCpuBefore = publisherCpuMs?.() ?? null;
  const wallBefore = performance.now();
  // the gateway thread's collections while measuring (bench/workers/collections.ts)
  const collectionsSeen = watchCollections();
  let rssMax = 0;
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }
  restClient.postMessage('stop');
  const wallMs = performance.now() - wallBefore;
  const collections = collectionsSeen();
  const cpu = process.cpuUsage(cpuBefore);
  const gatewayThreadCpu = pinned ? (ownThreadCpuMs() - threadCpuBefore) / wallMs : null;
  const helperThreadsCpu = pinned ? (helperThreadsCpuMs(benchThreads) - helpersCpuBefore) / wallMs : null;
  const gatewayCpuAfter = pinned ? cpuTimes(GATEWAY_CPU) : null;
  const publisherCpu = publisherCpuBefore !== null && publisherCpuMs !== null ? (publisherCpuMs() - publisherCpuBefore) / wallMs : null;
  const gatewayCpuBusy = gatewayCpuBefore !== null && gatewayCpuAfter !== null ? (gatewayCpuAfter.busy - gatewayCpuBefore.busy) / Math.max(1, gatewayCpuAfter.total - gatewayCpuBefore.total) : null;
  const statisticsMs = source.workMs - workBefore;
  const gatewayBusy = busyMs.apply + busyMs.requests + statisticsMs;
  const evaluations = source.evaluatedModels - evaluationsBefore;
  const pendingEnd = pendingCount();
  const computations = view.computations - computationsBefore;
  const rebinned = windows.rebinnedSketches - rebinnedBefore;
  measuring = false;
  await stopPublisher();
  clearInterval(rest);
  clearInterval(sampler);
  clearTimeout(scrapeStart);
  clearInterval(scrapeTimer);
  await scraping; // a scrape under way ends before its server closes (a failed one fails the bench)
  await scraper?.terminate();
  const restOverHttp = await restAnswer;
  await restClient.terminate();
  if (restOverHttp.failures > 0) throw new Error(`bench gateway: ${restOverHttp.failures} REST requests over HTTP failed, the first: ${restOverHttp.firstFailure}`);
  const httpLatencies = restOverHttp.latencies.sort((a, b) => a - b);
  // each answered request: from fetch called to its headers written to the socket (the client's
  // HTTP stack), from then to the server reading it (the wait for the gateway's event loop), and
  // from then to its answer written (the handler, on-demand drift included)
  const httpSends: number[] = [];
  const httpWaits: number[] = [];
  const httpServed: number[] = [];
  const httpAtGateway: number[] = [];
  for (const [id, sent, written] of restOverHttp.sentAt) {
    const times = served.get(String(id));
    if (times === undefined) continue;
    httpSends.push(written - sent);
    httpWaits.push(Math.max(0, times[0] - written));
    httpServed.push(times[1] - times[0]);
    httpAtGateway.push(times[1] - Math.min(times[0], written));
  }
  httpAtGateway.sort((a, b) => a - b);
  httpSends.sort((a, b) => a - b);
  httpWaits.sort((a, b) => a - b);
  httpServed.sort((a, b) => a - b);
  await http.close();
  source.stop();

  // the raw limit: the same messages decoded and applied into a bare store
  const rawRecordedBytes = rawRecording.ends.at(-1) ?? 0;
  const rawMsPerMessage = rawApplyMs(rawRecording, models, referenceBuckets);
  rawRecording.bytes = new Uint8Array(0);

  // memory: what the gateway's units hold, without the bench's own queues and samples (the
  // publisher's panes live on its thread's heap; the worker's share is measured apart below)
  const wireBytes = sampledNonFinal > 0 ? sampledWireBytes / sampledNonFinal : 0;
  queue.length = 0;
  head = markedUpTo = pulledAhead = 0;
  unpulled.clear();
  for (const pending of unreflected) pending.length = 0;
  const publisherPaneBytes = workerPaneBytes(WORKER_PANES_MEASURED);
  // without the store's bucket scratch and the messages' slabs: fixed costs of the process, not of its models
  const gatewayBytes = liveHeapBytes() - heapBaseline - windows.scratchBytes - (slabs?.heldBytes ?? 0);
  const held = names.reduce((sum, name) => {
    const states = windows.windowsOf(name)?.heldStates;
    return sum + (states === undefined ? 0 : states.perPartition + states.folded + states.coarse);
  }, 0);
  const arenas = names.reduce(
    (sum, name) => {
      const figures = windows.windowsOf(name)?.arenaFigures;
      return figures === undefined ? sum : { bytes: sum.bytes + figures.bytes, free: sum.free + figures.freeBytes, compactions: sum.compactions + figures.compactions };
    },
    { bytes: 0, free: 0, compactions: 0 },
  );
  const gatewayBytesPerCell = gatewayBytes / (models * FEATURES * WINDOWS.length);
  const workerBytesPerFeature = publisherPaneBytes / FEATURES;

  const messagesPerSecond = (published * 1000) / wallMs;
  const publisherFlushesPerSecond = (flushes * FLUSH_MS) / wallMs;
  const rawCpu = (rawMsPerMessage * ((publishedWithFinals * 1000) / wallMs)) / 1000;
  const gatewayBusyShare = gatewayBusy / wallMs;
  restLatencies.sort((a, b) => a - b);
  freshness.sort((a, b) => a - b);
  applyLags.sort((a, b) => a - b);
  eventAges.sort((a, b) => a - b);
  restHandlerMs.sort((a, b) => a - b);
  return {
    models,
    features: FEATURES,
    windows: WINDOWS.length,
    eventsPerSecond: models * ratePerModel,
    paneMessagesPerSecond: Number(messagesPerSecond.toFixed(1)),
    gatewayBusy: Number(gatewayBusyShare.toFixed(3)),
    applyBusy: Number((busyMs.apply / wallMs).toFixed(3)),
    statisticsBusy: Number((statisticsMs / wallMs).toFixed(3)),
    modelEvaluationsPerSecond: Number(((evaluations * 1000) / wallMs).toFixed(1)),
    processCpu: Number(((cpu.user + cpu.system) / 1000 / wallMs).toFixed(3)),
    gatewayThreadCpu: gatewayThreadCpu === null ? null : Number(gatewayThreadCpu.toFixed(3)),
    helperThreadsCpu: helperThreadsCpu === null ? null : Number(helperThreadsCpu.toFixed(3)),
    gatewayCpuBusy: gatewayCpuBusy === null ? null : Number(gatewayCpuBusy.toFixed(3)),
    publisherCpu: publisherCpu === null ? null : Number(publisherCpu.toFixed(3)),
    publisherFlushesPerSecond: Number(publisherFlushesPerSecond.toFixed(2)),
    rawCpu: Number(rawCpu.toFixed(4)),
    ratioToRaw: Number((rawCpu > 0 ? gatewayBusyShare / rawCpu : 0).toFixed(2)),
    rssMB: Math.round(rssMax / 2 ** 20),
    rawRecordingMB: Math.round(rawRecordedBytes / 2 ** 20),
    pendingMax,
    pendingEnd,
    replacedOnStream: replacedMessages,
    freshness5mP50Ms: Math.round(quantile(freshness, 0.5)),
    freshness5mP99Ms: Math.round(quantile(freshness, 0.99)),
    windowFreshnessP50Ms: Math.round(quantile(applyLags, 0.5)),
    windowFreshnessP99Ms: Math.round(quantile(applyLags, 0.99)),
    eventAgeP50Ms: Math.round(quantile(eventAges, 0.5)),
    eventAgeP99Ms: Math.round(quantile(eventAges, 0.99)),
    restP50Ms: Number(quantile(restLatencies, 0.5).toFixed(2)),
    restP99Ms: Number(quantile(restLatencies, 0.99).toFixed(2)),
    restHttpP50Ms: Number(quantile(httpLatencies, 0.5).toFixed(2)),
    restHttpP99Ms: Number(quantile(httpLatencies, 0.99).toFixed(2)),
    restHttpMaxMs: Number((httpLatencies.at(-1) ?? 0).toFixed(2)),
    restHttpClientLateP99Ms: Number(quantile(restOverHttp.lateness.sort((a, b) => a - b), 0.99).toFixed(2)),
    restHttpClientSendP99Ms: Number(quantile(httpSends, 0.99).toFixed(2)),
    restHttpAtGatewayP99Ms: Number(quantile(httpAtGateway, 0.99).toFixed(2)),
    restHttpWaitP50Ms: Number(quantile(httpWaits, 0.5).toFixed(2)),
    restHttpWaitP99Ms: Number(quantile(httpWaits, 0.99).toFixed(2)),
    restHttpServedP50Ms: Number(quantile(httpServed, 0.5).toFixed(2)),
    restHttpServedP99Ms: Number(quantile(httpServed, 0.99).toFixed(2)),
    restHttpRequests: httpLatencies.length,
    restMaxMs: Number((restLatencies.at(-1) ?? 0).toFixed(2)),
    restHandlerP50Ms: Number(quantile(restHandlerMs, 0.5).toFixed(2)),
    restHandlerP99Ms: Number(quantile(restHandlerMs, 0.99).toFixed(2)),
    scrapes: scrapes.length,
    scrapeMaxMs: Math.round(Math.max(0, ...scrapes.map((s) => s.wallMs))),
    scrapeBytes: Math.max(0, ...scrapes.map((s) => s.bytes)),
    samplerShare: Number((samplerMs / wallMs).toFixed(4)),
    samplerMaxMs: Number(samplerMaxMs.toFixed(1)),
    scavenges: collections.scavenges,
    scavengeMs: Math.round(collections.scavengeMs),
    fullCollections: collections.full,
    fullCollectionMs: Math.round(collections.fullMs),
    driftComputations: computations,
    rebinnedSketchShare: Number((published > 0 ? rebinned / (published * FEATURES) : 0).toFixed(3)),
    stateArraysReusedShare: Number((windows.stateArrays.reused / Math.max(1, windows.stateArrays.reused + windows.stateArrays.made)).toFixed(3)),
    arenaBytesPerModel: Math.round(arenas.bytes / Math.max(1, names.length)),
    arenaFreeShare: Number((arenas.free / Math.max(1, arenas.bytes)).toFixed(3)),
    arenaCompactions: arenas.compactions,
    messageSlabsMade: slabs?.slabsMade ?? null,
    messagesNotCopied: slabs?.tooLarge ?? null,
    backlogMaxModels: backlogMax,
    gatewayBytesPerModelFeatureWindow: Math.round(gatewayBytesPerCell),
    gatewayMemoryRatioToBudget: Number((gatewayBytesPerCell / GATEWAY_BYTES_PER_MODEL_FEATURE_WINDOW_BUDGET).toFixed(2)),
    heldPanesPerModel: Number((held / models).toFixed(1)),
    heldPaneWireBytesPerFeature: Math.round(wireBytes / FEATURES),
    workerBytesPerPaneFeature: Math.round(workerBytesPerFeature),
    workerMemoryRatioToBudget: Number((workerBytesPerFeature / WORKER_BYTES_PER_PANE_FEATURE_BUDGET).toFixed(2)),
  };
}

interface SteadyStateMemory {
  coarsePaneMs: number;
  models: number;
  /**
   * busy: one partition's panes of 200 events each; sparse: SPARSE_PARTITIONS partitions' panes of
   * SPARSE_EVENTS_PER_PANE each; sparse-labels: the same with a label for every prediction.
   */
  traffic: 'busy' | 'sparse' | 'sparse-labels';
  /** Outcome states a model's windows hold per partition at the end (open until the label horizon); 0 without labels. */
  openOutcomesPerModel: number;
  /** The panes those states are in, per model, and of them those held deflated (quiet: ModelWindowsOptions.outcomePackQuietMs). */
  outcomePanesPerModel: number;
  deflatedOutcomePanesPerModel: number;
  /** Values a window of feature f0 lists one by one at the end (ExactValueCounts), per window, of model-0. */
  listedValues: Record<string, number>;
  /**
   * Live heap of the store (windows and every pane state held) per model x feature, and per model x
   * feature x window, without the store's bucket scratch (fixedScratchBytes: one per process, not
   * per model; with three models it was a quarter of the figure).
   */
  bytesPerModelFeature: number;
  bytesPerModelFeatureWindow: number;
  /** The store's bucket scratch (WindowStore.scratchBytes): a fixed cost of the gateway, whatever its models. */
  fixedScratchBytes: number;
  /** Pane states held per model at the end: fine (per partition or folded), coarse (1 min) and history (5 min). */
  finePanesPerModel: number;
  coarsePanesPerModel: number;
  historyPanesPerModel: number;
  /** Mean wire bytes per feature of a fine, a coarse and a history pane state (its sketches decoded and encoded again). */
  fineStateBytesPerFeature: number;
  coarseStateBytesPerFeature: number;
  historyStateBytesPerFeature: number;
  /**
   * Where the bytes are, per model x feature: the states held (folded, coarse and history ones
   * packed: ModelWindows.heldStateBytes) and the window aggregates' bucket arrays (their capacity;
   * one aggregate per window with one version); the rest is object headers and the heap's share.
   */
  heldStateBytesPerModelFeature: number;
  /** The same by kind: partitions' states (open, or final and not folded yet), folded, coarse, history. */
  heldStateBytesByKind: { perPartition: number; folded: number; coarse: number; history: number };
  aggregateBytesPerModelFeature: number;
  /** Wall time to feed the history (decode + apply), ms per message. */
  applyMsPerMessage: number;
  /** Process CPU time to feed it, ms per message (less sensitive than wall time to a shared machine's load). */
  applyCpuMsPerMessage: number;
  /** Pane sketches the store moved onto a model's buckets, per feature of a message fed (0: every state on its model's centers). */
  rebinnedSketchShare: number;
}

/** Bytes of a pane state's sketches and exact values (what dominates its size), divided by its features. */
function stateBytesPerFeature(state: PaneInputWire): number {
  let bytes = 0;
  const features = Object.values(state.features);
  for (const feature of features) bytes += (feature.n?.length ?? 0) + 16 * (feature.x?.v.length ?? 0);
  return features.length > 0 ? bytes / features.length : 0;
}

/**
 * The gateway's heap at steady state: `models` models fed HISTORY_MS of event time of final pane
 * states, time-major as a changelog delivers them, into a WindowStore with coarse panes of
 * `coarsePaneMs` (0: none). Busy traffic: one partition's panes of 200 events (cycling through
 * HISTORY_STATES states). Sparse: 20 events/s per model spread over 16 partitions, as most models
 * of a gateway see them: panes of 12-13 events, each of whose values the pane lists one by one
 * (ExactValueCounts: no more than 16 distinct), every pane's values its own.
 */
function steadyStateMemory(models: number, coarsePaneMs: number, traffic: SteadyStateMemory['traffic'] = 'busy', historyMs = HISTORY_MS): SteadyStateMemory {
  // A model's panes share its features' centers, as a worker's do once the model has a reference
  // (WorkerReferences.centersFor): until 2026-12-03 each state here was centered on its own first
  // values, so the gateway moved every one onto the model's buckets and held it rewritten, which
  // production does only before a reference exists.
  const busyCenters: FeatureCenters = new Map();
  const states = Array.from({ length: HISTORY_STATES }, (_, k) => {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS, busyCenters);
    fill(pane, 200, 5_000_000 + k * 200);
    return inputToWire(pane);
  });
  const sparseCenters = Array.from({ length: models }, (): FeatureCenters => new Map());
  const sparseState = (paneIndex: number, partition: number, model: number): PaneInputWire => {
    const pane = new PaneInput(DEFAULT_PANE_LIMITS, sparseCenters[model]);
    fill(pane, SPARSE_EVENTS_PER_PANE, 9_000_000 + (paneIndex * SPARSE_PARTITIONS + partition) * SPARSE_EVENTS_PER_PANE);
    return inputToWire(pane);
  };
  const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 3_600_000);
  // per model x partition, its open outcome panes by start (sparse-labels)
  const outcomes = Array.from({ length: traffic === 'sparse-labels' ? models * SPARSE_PARTITIONS : 0 }, () => new Map<number, PaneOutcome>());
  const labelsPerPartitionAndPane = Math.round(SPARSE_EVENTS_PER_PANE);
  const outcomeGrid = coarseGridOf(paneLayout(new Map(WINDOWS.map((w) => [w, parseDuration(w) as number])), coarsePaneMs), PANE_MS);
  const reader = new MsgpackReader();
  const before = liveHeapBytes();
  const store = new WindowStore({ windows: WINDOWS, limits: DEFAULT_PANE_LIMITS, maxModels: models, coarsePaneMs });
  let messages = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  for (let paneStart = t0; paneStart < t0 + historyMs; paneStart += PANE_MS) {
    for (let m = 0; m < models; m++) {
      const partitions = traffic === 'busy' ? 1 : SPARSE_PARTITIONS;
      for (let partition = 0; partition < partitions; partition++) {
        const paneIndex = (paneStart - t0) / PANE_MS;
        if (traffic === 'busy') {
          const bytes = encodePaneMessage({ model: `model-${m}`, version: 'v1', partition, paneStart, paneMs: PANE_MS, part: 'in', seq: messages, state: states[(paneIndex + m) % HISTORY_STATES], final: true });
          store.applyPaneMessage(decodePaneMessage(bytes, reader));
          messages++;
          continue;
        }
        // as a worker publishes them: a pane's state when it ends, its final state once the allowed
        // lateness (panes.allowedLatenessMs, 60 s) has passed; meanwhile the gateway holds it open
        const open = encodePaneMessage({ model: `model-${m}`, version: 'v1', partition, paneStart, paneMs: PANE_MS, part: 'in', seq: messages, state: sparseState(paneIndex + m, partition, m), final: false });
        store.applyPaneMessage(decodePaneMessage(open, reader));
        messages++;
        const closedStart = paneStart - PANE_MS - SPARSE_LATENESS_MS;
        if (closedStart < t0) continue;
        const closedIndex = (closedStart - t0) / PANE_MS;
        const closed = encodePaneMessage({ model: `model-${m}`, version: 'v1', partition, paneStart: closedStart, paneMs: PANE_MS, part: 'in', seq: messages, state: sparseState(closedIndex + m, partition, m), final: true });
        store.applyPaneMessage(decodePaneMessage(closed, reader));
        messages++;
      }
      if (traffic !== 'sparse-labels') continue;
      // the labels that came during this pane, each to its prediction's pane (up to LABEL_DELAY_MS
      // back) in its partition: each outcome state changed is published, as a worker's flush does
      for (let partition = 0; partition < SPARSE_PARTITIONS; partition++) {
        const open = outcomes[m * SPARSE_PARTITIONS + partition];
        const changed = new Set<number>();
        for (let j = 0; j < labelsPerPartitionAndPane; j++) {
          const i = (((paneStart - t0) / PANE_MS) * SPARSE_PARTITIONS + partition) * labelsPerPartitionAndPane + j;
          const delayMs = (((i * 2654435761) >>> 0) / 4294967296) * LABEL_DELAY_MS;
          const predictedStart = paneStart - Math.floor(delayMs / PANE_MS) * PANE_MS;
          if (predictedStart < t0) continue;
          // as a worker counts it: past the fine span, in its coarse interval's first pane
          const start = outcomePaneStartOf(predictedStart, paneStart, outcomeGrid);
          let outcome = open.get(start);
          if (outcome === undefined) open.set(start, (outcome = new PaneOutcome(DEFAULT_PANE_LIMITS)));
          outcome.addJoined(scoreOf(i), labelOf(i), 0.5, delayMs, false, null);
          changed.add(start);
        }
        for (const [start, outcome] of open) {
          const final = outcomePaneClosed(start, PANE_MS, LABEL_HORIZON_MS, paneStart, paneStart, outcomeGrid);
          if (!final && !changed.has(start)) continue;
          const bytes = encodePaneMessage({ model: `model-${m}`, version: 'v1', partition, paneStart: start, paneMs: PANE_MS, part: 'out', seq: messages, state: outcomeToWire(outcome), final });
          store.applyPaneMessage(decodePaneMessage(bytes, reader));
          messages++;
          if (final) open.delete(start);
        }
      }
    }
  }
  const applyMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const fixedScratchBytes = store.scratchBytes;
  const bytes = liveHeapBytes() - before - fixedScratchBytes;
  let fine = 0;
  let coarse = 0;
  let history = 0;
  let openOutcomes = 0;
  let outcomePanes = 0;
  let deflatedOutcomePanes = 0;
  let heldBytes = 0;
  const byKind = { perPartition: 0, folded: 0, coarse: 0, history: 0 };
  let aggregateBytes = 0;
  for (let m = 0; m < models; m++) {
    const windows = store.windowsOf(`model-${m}`);
    const held = windows?.heldStates;
    fine += (held?.perPartition ?? 0) + (held?.folded ?? 0);
    openOutcomes += windows?.openOutcomeStates ?? 0;
    outcomePanes += windows?.outcomePanes.open ?? 0;
    deflatedOutcomePanes += windows?.outcomePanes.deflated ?? 0;
    coarse += held?.coarse ?? 0;
    history += held?.history ?? 0;
    const bytes = windows?.heldStateBytes;
    heldBytes += (bytes?.perPartition ?? 0) + (bytes?.folded ?? 0) + (bytes?.coarse ?? 0) + (bytes?.history ?? 0);
    for (const kind of ['perPartition', 'folded', 'coarse', 'history'] as const) byKind[kind] += bytes?.[kind] ?? 0;
    for (const window of WINDOWS) {
      for (const version of [undefined, 'v1']) {
        const aggregate = windows?.get(window, version);
        if (aggregate === undefined || (version === undefined && aggregate === windows?.get(window, 'v1'))) continue;
        for (const feature of aggregate.input.features.values()) aggregateBytes += feature.numeric?.bucketCapacityBytes ?? 0;
      }
    }
  }
  // what one coarse state weighs (six fine states merged, on the store's buckets, as it holds them),
  // inside the 1h window; and one history state (five coarse ones), before it
  const coarseSample = coarsePaneMs > 0 ? store.aggregateRange('model-0', t0 + 6_000_000, t0 + 6_000_000 + coarsePaneMs) : undefined;
  const historySample = coarsePaneMs > 0 ? store.aggregateRange('model-0', t0 + 3_600_000, t0 + 3_600_000 + 300_000) : undefined;
  if (store.windowsOf('model-0') === undefined) throw new Error('steady-state store lost its models'); // keeps it alive until measured
  const listedValues = Object.fromEntries(WINDOWS.map((window) => [window, store.windowsOf('model-0')?.get(window)?.input.features.get('f0')?.exact?.size ?? 0]));
  return {
    coarsePaneMs,
    models,
    traffic,
    listedValues,
    bytesPerModelFeature: Math.round(bytes / (models * FEATURES)),
    bytesPerModelFeatureWindow: Math.round(bytes / (models * FEATURES * WINDOWS.length)),
    fixedScratchBytes,
    finePanesPerModel: Number((fine / models).toFixed(1)),
    openOutcomesPerModel: Number((openOutcomes / models).toFixed(1)),
    outcomePanesPerModel: Number((outcomePanes / models).toFixed(1)),
    deflatedOutcomePanesPerModel: Number((deflatedOutcomePanes / models).toFixed(1)),
    coarsePanesPerModel: Number((coarse / models).toFixed(1)),
    historyPanesPerModel: Number((history / models).toFixed(1)),
    fineStateBytesPerFeature: Math.round(states.reduce((sum, state) => sum + stateBytesPerFeature(state), 0) / states.length),
    coarseStateBytesPerFeature: coarseSample === undefined ? 0 : Math.round(stateBytesPerFeature(inputToWire(coarseSample.input))),
    historyStateBytesPerFeature: history === 0 || historySample === undefined ? 0 : Math.round(stateBytesPerFeature(inputToWire(historySample.input))),
    heldStateBytesPerModelFeature: Math.round(heldBytes / (models * FEATURES)),
    heldStateBytesByKind: {
      perPartition: Math.round(byKind.perPartition / (models * FEATURES)),
      folded: Math.round(byKind.folded / (models * FEATURES)),
      coarse: Math.round(byKind.coarse / (models * FEATURES)),
      history: Math.round(byKind.history / (models * FEATURES)),
    },
    aggregateBytesPerModelFeature: Math.round(aggregateBytes / (models * FEATURES)),
    applyMsPerMessage: Number((applyMs / messages).toFixed(3)),
    applyCpuMsPerMessage: Number(((cpu.user + cpu.system) / 1000 / messages).toFixed(3)),
    rebinnedSketchShare: Number((store.rebinnedSketches / (messages * FEATURES)).toFixed(3)),
  };
}

/**
 * Feeds every shape briefly to a store that is then let go, before any is measured: what a process
 * allocates once (compiled code, the codec's caches, first-use tables) is then in every shape's
 * baseline, not in the first measured shape's per-model figure. Without it the sparse shape read
 * 82-85 KB per model x feature x window alone and 72-78 KB after the busy shapes (2 models).
 */
function warmUpSteadyState(): void {
  const warmUpMs = 20 * 60_000;
  steadyStateMemory(1, DEFAULT_COARSE_PANE_MS, 'busy', warmUpMs);
  steadyStateMemory(1, 0, 'busy', warmUpMs);
  steadyStateMemory(1, DEFAULT_COARSE_PANE_MS, 'sparse-labels', warmUpMs);
}

async function main(): Promise<void> {
  console.log(`gateway bench: ${sizes.join(' / ')} models x ${FEATURES} features x ${WINDOWS.length} windows, ${ratePerModel} events/s per model over ${partitions} partition(s) (${spread === 'hash' ? 'by id hash' : 'evenly, in step'}, sparse hold ${sparseHoldMs} ms, flushes ${flushPhases === 'spread' ? 'at a phase per partition' : 'of every partition at once'}), heap growing ${heapGrowingPercent === 0 ? "V8's own" : `${heapGrowingPercent} %`}, ${warmupSeconds} s warm-up, ${seconds} s measured, panes centered ${ownCenters ? 'each on its own first values (--own-centers)' : "on the models' reference"}${pinned ? `; --pin: the gateway on CPU ${GATEWAY_CPU}, the publisher, REST client and scraper on CPU ${otherCpus(GATEWAY_CPU)}` : ''}`);
  const results: SizeResult[] = [];
  for (const models of sizes) {
    const r = await runSize(models);
    results.push(r);
    console.log(
      `${String(models).padStart(4)} models: gateway busy ${(r.gatewayBusy * 100).toFixed(1)} % of wall (raw decode+apply ${(r.rawCpu * 100).toFixed(2)} %, x${r.ratioToRaw}); process CPU ${(r.processCpu * 100).toFixed(1)} %, ` +
        `RSS ${r.rssMB} MB (${r.rawRecordingMB} MB of it the raw limit's recorded messages), changelog pending max ${r.pendingMax} / end ${r.pendingEnd} (${r.replacedOnStream} replaced on the stream before delivery), 5m drift freshness p50 ${r.freshness5mP50Ms} ms p99 ${r.freshness5mP99Ms} ms, window figures (1m/1h on demand) p50 ${r.windowFreshnessP50Ms} ms p99 ${r.windowFreshnessP99Ms} ms from publication, p50 ${r.eventAgeP50Ms} ms p99 ${r.eventAgeP99Ms} ms from the event, ` +
        `REST p50 ${r.restP50Ms} ms p99 ${r.restP99Ms} ms max ${r.restMaxMs} ms (the handler alone ${r.restHandlerP50Ms} / ${r.restHandlerP99Ms} ms), over HTTP p50 ${r.restHttpP50Ms} ms p99 ${r.restHttpP99Ms} ms max ${r.restHttpMaxMs} ms (${r.restHttpRequests} requests, the client's own lateness p99 ${r.restHttpClientLateP99Ms} ms, its HTTP stack to the request written p99 ${r.restHttpClientSendP99Ms} ms; written to read by the server p50 ${r.restHttpWaitP50Ms} / p99 ${r.restHttpWaitP99Ms} ms, served in p50 ${r.restHttpServedP50Ms} / p99 ${r.restHttpServedP99Ms} ms; at the gateway, the two together, p99 ${r.restHttpAtGatewayP99Ms} ms), ${r.scrapes} Prometheus scrapes (longest ${r.scrapeMaxMs} ms in slices, ${(r.scrapeBytes / 1e6).toFixed(1)} MB), the bench's own sampling ${(100 * r.samplerShare).toFixed(2)} % of the gateway's thread (longest ${r.samplerMaxMs} ms), ${r.scavenges} scavenges (${r.scavengeMs} ms) and ${r.fullCollections} full collections (final pauses ${r.fullCollectionMs} ms) on the gateway's heap, ${r.driftComputations} drift computations, backlog max ${r.backlogMaxModels} models, ${(100 * r.rebinnedSketchShare).toFixed(1)} % of pane sketches rebinned, ${(100 * r.stateArraysReusedShare).toFixed(1)} % of input states held in arrays used again, ${r.messageSlabsMade === null ? 'messages held as views of the parts they came in (--no-copies)' : `messages copied on arrival into ${r.messageSlabsMade} slabs of 1 MiB (${r.messagesNotCopied} too large to copy)`}`,
    );
    if (r.gatewayThreadCpu !== null && r.gatewayCpuBusy !== null) {
      console.log(
        `      pinned: the gateway's thread used ${(100 * r.gatewayThreadCpu).toFixed(1)} % of CPU ${GATEWAY_CPU}, ${gcMode === 'single' ? `collecting its heap included (${SINGLE_THREADED_GC})` : "V8's helper threads (collecting concurrently) and libuv's beside it on that CPU " + (100 * (r.helperThreadsCpu ?? 0)).toFixed(1) + ' %'}; CPU ${GATEWAY_CPU} was ${(100 * r.gatewayCpuBusy).toFixed(1)} % busy (anything else the machine ran there included); ` +
          `the publisher used ${r.publisherCpu === null ? '?' : (100 * r.publisherCpu).toFixed(1)} % of a core`,
      );
    }
    if (r.publisherFlushesPerSecond < PUBLISHER_ON_TIME) {
      console.log(
        `      PUBLISHER BEHIND: ${r.publisherFlushesPerSecond} flushes per ${FLUSH_MS} ms instead of 1, so about ${Math.round(100 * r.publisherFlushesPerSecond)} % of the models' traffic (~${Math.round(models * r.publisherFlushesPerSecond)} models' worth) reached the gateway`,
      );
    }
    console.log(
      `      memory: gateway ${r.gatewayBytesPerModelFeatureWindow} B per model x feature x window (x${r.gatewayMemoryRatioToBudget} of the ${GATEWAY_BYTES_PER_MODEL_FEATURE_WINDOW_BUDGET} B budget; ` +
        `${r.models < MEMORY_CHECKED_FROM_MODELS ? 'not checked below ' + MEMORY_CHECKED_FROM_MODELS + ' models: fixed heap; ' : ''}` +
        `${r.heldPanesPerModel} pane states held per model, ${r.heldPaneWireBytesPerFeature} wire B per pane per feature; ` +
        `the windows' bucket arrays ${(r.arenaBytesPerModel / 1024).toFixed(0)} KB per model in slabs, ${(100 * r.arenaFreeShare).toFixed(1)} % of them free, ${r.arenaCompactions} compactions); ` +
        `worker ${r.workerBytesPerPaneFeature} B per pane per feature (x${r.workerMemoryRatioToBudget} of the ${WORKER_BYTES_PER_PANE_FEATURE_BUDGET} B budget)`,
    );
  }
  if (!args['no-steady']) warmUpSteadyState();
  const steady = args['no-steady']
    ? []
    : memoryShapes.map((shape) =>
        shape === 'busy-no-coarse' ? steadyStateMemory(memoryModels, 0) : steadyStateMemory(memoryModels, DEFAULT_COARSE_PANE_MS, shape),
      );
  for (const r of steady) {
    const traffic =
      r.traffic === 'busy'
        ? 'one partition, 200 events per pane'
        : `${SPARSE_PARTITIONS} partitions, ${SPARSE_EVENTS_PER_PANE} events per pane` +
          (r.traffic === 'sparse-labels' ? `, every prediction labelled up to ${LABEL_DELAY_MS / 60_000} min later (${r.openOutcomesPerModel} open outcome states per model at the end, in ${r.outcomePanesPerModel} panes, ${r.deflatedOutcomePanesPerModel} of them deflated: no label for a minute)` : '');
    console.log(
      `steady state (${HISTORY_MS / 60_000} min of event time, ${r.models} models, ${traffic}, ${r.coarsePaneMs > 0 ? `coarse panes of ${r.coarsePaneMs / 1000} s` : 'no coarse panes'}): ` +
        `${r.bytesPerModelFeature} B per model x feature, ${r.bytesPerModelFeatureWindow} B per model x feature x window ` +
        `(x${(r.bytesPerModelFeatureWindow / GATEWAY_STEADY_BYTES_PER_MODEL_FEATURE_WINDOW_BUDGET).toFixed(2)} of the ${GATEWAY_STEADY_BYTES_PER_MODEL_FEATURE_WINDOW_BUDGET} B budget); ` +
        `${r.finePanesPerModel} fine + ${r.coarsePanesPerModel} coarse + ${r.historyPanesPerModel} history pane states per model (${r.fineStateBytesPerFeature} / ${r.coarseStateBytesPerFeature} / ${r.historyStateBytesPerFeature} wire sketch B per feature); ` +
        `held states ${r.heldStateBytesPerModelFeature} B (partitions' ${r.heldStateBytesByKind.perPartition}, folded ${r.heldStateBytesByKind.folded}, coarse ${r.heldStateBytesByKind.coarse}, history ${r.heldStateBytesByKind.history}) and window aggregates ${r.aggregateBytesPerModelFeature} B per model x feature; ` +
        `besides, the store's bucket scratch ${(r.fixedScratchBytes / 2 ** 20).toFixed(2)} MB (fixed, not per model); ` +
        `300 models x ${FEATURES} features: ${((300 * FEATURES * r.bytesPerModelFeature) / 2 ** 30).toFixed(2)} GB; fed at ${r.applyMsPerMessage} ms per message (CPU ${r.applyCpuMsPerMessage} ms, ${r.rebinnedSketchShare} of pane sketches rebinned); ` +
        `values listed one by one by f0's windows: ${WINDOWS.map((window) => `${window} ${r.listedValues[window]}`).join(', ')}`,
    );
  }
  const steadyOverBudget = steady.some((r) => r.coarsePaneMs > 0 && r.bytesPerModelFeatureWindow > GATEWAY_STEADY_BYTES_PER_MODEL_FEATURE_WINDOW_BUDGET);
  if (steadyOverBudget) console.log('STEADY-STATE MEMORY OVER BUDGET');
  const overBudget = results.filter((r) => (r.models >= MEMORY_CHECKED_FROM_MODELS && r.gatewayMemoryRatioToBudget > 1) || r.workerMemoryRatioToBudget > 1).map((r) => r.models);
  if (overBudget.length > 0) console.log(`MEMORY OVER BUDGET at ${overBudget.join(', ')} models`);
  console.log(JSON.stringify({ bench: 'gateway', quick: args.quick, seconds, ratePerModel, partitions, spread, flushPhases, sparseHoldMs, heapGrowingPercent, tickMs: tickMs ?? 'default', paneCenters: ownCenters ? 'own' : 'reference', memoryBudget: { gatewayBytesPerModelFeatureWindow: GATEWAY_BYTES_PER_MODEL_FEATURE_WINDOW_BUDGET, gatewaySteadyBytesPerModelFeatureWindow: GATEWAY_STEADY_BYTES_PER_MODEL_FEATURE_WINDOW_BUDGET, workerBytesPerPaneFeature: WORKER_BYTES_PER_PANE_FEATURE_BUDGET, withinBudget: overBudget.length === 0 && !steadyOverBudget }, results, steadyState: steady }));
}

await main();
