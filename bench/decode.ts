/**
 * Decode + validate cost of one prediction (~260 bytes: 10 numeric + 2 categorical features),
 * per payload format and decoder:
 *   - EventDecoder: decodePrediction (an event as an object, as the library API and the tests
 *     take it) and decodePredictionInto (the worker's path: features into its buffer by schema
 *     index; until 2026-12-06 the first line was labelled the worker's path, which it is not)
 *   - @msgpack/msgpack's reused Decoder + validation (the limit EventDecoder replaced)
 *   - @msgpack/msgpack one-shot decode() (builds a Decoder per call)
 *   - msgpackr Unpackr (not a dependency; measured to inform the choice)
 *   - JSON: UTF-8 decode + JSON.parse
 * plus validation alone. Each figure is ns per event, best of several rounds over 1,000
 * distinct payloads (so no single buffer stays hot).
 *
 * Then the id's shape, on the worker's path (decodePredictionInto: features into the buffer by
 * schema index) over ID_EVENTS events each with an id of its own, packed into 64 KB Buffers and
 * decoded from Buffer views, as the NATS client hands them: short ids (`req-` and 10 digits, what
 * a reader's cache of short strings takes) against UUIDs (36 characters, longer than it takes:
 * the reference, measured in the same run). Until 2026-12-06 a short id went through the cache,
 * one new entry per event, pushing out the strings that repeat.
 *
 * And a wide event (200 numeric + 2 categorical features, names of 5 to 7 bytes, as the ingest
 * bench's features axis sends them): the worker's decode into its buffer against the library's
 * reused Decoder + validation of the same payloads (an object per event: the limit it replaced),
 * ns per event and per feature. Since 2026-12-06 a key is compared four bytes at a time with the
 * last four overlapping, not its tail byte by byte.
 *
 *   npx tsx bench/decode.ts        (or: npm run bench -- decode)
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { TextDecoder } from 'node:util';
import { Decoder, decode as msgpackDecodeOnce } from '@msgpack/msgpack';
import { Unpackr } from 'msgpackr';
import { Buffer } from 'node:buffer';
import { EventDecoder } from '../src/events/decode.ts';
import { FeatureBuffer, FeatureSchema } from '../src/events/feature-schema.ts';
import { encodeJson, encodePrediction } from '../src/events/encode.ts';
import { checkPrediction, WIRE_LIMITS } from '../src/events/validate.ts';
import type { PredictionEvent } from '../src/events/types.ts';

const DISTINCT_PAYLOADS = 1_000;
/** Events of the id-shape section, each with an id of its own. */
const ID_EVENTS = 200_000;
const ID_ROUNDS = 7;
/** The most a socket read of the NATS client holds. */
const SOCKET_READ_BYTES = 65_536;

type IdShape = 'short' | 'uuid';

function idOf(shape: IdShape, i: number): string {
  return shape === 'short' ? `req-${String(i).padStart(10, '0')}` : `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
}

/** `count` predictions with ids of `shape`, packed into 64 KB Buffers: a Buffer view each, as the NATS client hands them. */
function socketReadsOf(shape: IdShape, count: number): Buffer[] {
  const views: Buffer[] = [];
  let read = Buffer.allocUnsafeSlow(SOCKET_READ_BYTES);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const bytes = encodePrediction({ ...samplePrediction(i), id: idOf(shape, i) });
    if (at + bytes.length > read.length) {
      read = Buffer.allocUnsafeSlow(SOCKET_READ_BYTES);
      at = 0;
    }
    read.set(bytes, at);
    views.push(read.subarray(at, at + bytes.length));
    at += bytes.length;
  }
  return views;
}

/** ns per event of the worker's decode (features into the buffer) over `views`, median of ID_ROUNDS; the shapes' rounds interleaved. */
function idShapeCosts(shapes: readonly IdShape[]): Record<IdShape, number> {
  const inputs = shapes.map((shape) => ({ shape, views: socketReadsOf(shape, ID_EVENTS), decoder: new EventDecoder(), schema: new FeatureSchema(64), buffer: new FeatureBuffer(WIRE_LIMITS.maxFeatures) }));
  const times = shapes.map((): number[] => []);
  for (let round = 0; round < ID_ROUNDS; round++) {
    inputs.forEach(({ views, decoder, schema, buffer }, s) => {
      const started = process.hrtime.bigint();
      for (const view of views) mustBeValid(decoder.decodePredictionInto(view, schema, buffer, undefined, undefined));
      times[s].push(Number(process.hrtime.bigint() - started) / views.length);
    });
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1];
  return Object.fromEntries(shapes.map((shape, s) => [shape, median(times[s])])) as Record<IdShape, number>;
}
/** Numeric features of the wide event (plus two categorical ones). */
const WIDE_NUMERIC = 200;
/** Wide events per round of the library's decode. */
const WIDE_EVENTS_PER_ROUND = 5_000;

function widePrediction(i: number): PredictionEvent {
  const features: Record<string, number | string> = {};
  for (let f = 0; f < WIDE_NUMERIC; f++) features[`num_${f}`] = Math.round(((i * 7919 + f * 104_729) % 10_007) / 10.007) / 1000;
  features.cat_0 = ['FR', 'DE', 'US', 'BR'][i % 4];
  features.cat_1 = ['ios', 'android', 'web'][i % 3];
  return { ...samplePrediction(i), features };
}

const EVENTS_PER_ROUND = 50_000;
const ROUNDS = 15;

function samplePrediction(i: number): PredictionEvent {
  const features: Record<string, number | string> = {};
  for (let f = 0; f < 10; f++) features[`f${f}`] = Math.round(((i * 7919 + f * 104729) % 100_000) / 7) / 100 + 0.001;
  features.country = ['FR', 'DE', 'US', 'BR'][i % 4];
  features.device = ['ios', 'android', 'web'][i % 3];
  return {
    id: `pred-${String(1_000_000 + i)}`,
    model: 'fraud_v2',
    version: 'v7',
    ts: 1_717_171_717_171 + i,
    output: 0.8312 + (i % 100) / 1000,
    features,
    latencyMs: 3.25 + (i % 40),
    segment: { region: 'eu' },
  };
}

interface Variant {
  payloads: Uint8Array[];
  fn: (data: Uint8Array) => unknown;
}

/**
 * Runs every variant once per round, interleaved, and keeps each one's best (lowest) ns per
 * event: on a shared 2-core machine a load spike then hurts one round of every variant alike
 * instead of one variant's whole measurement.
 */
function measureInterleaved<K extends string>(variants: Record<K, Variant>, eventsPerRound = EVENTS_PER_ROUND): Record<K, number> {
  const best = {} as Record<K, number>;
  const names = Object.keys(variants) as K[];
  for (const name of names) best[name] = Infinity;
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const { payloads, fn } = variants[name];
      const start = process.hrtime.bigint();
      for (let i = 0; i < eventsPerRound; i++) {
        if (fn(payloads[i % payloads.length]) !== undefined) sink++;
      }
      const ns = Number(process.hrtime.bigint() - start) / eventsPerRound;
      if (ns < best[name]) best[name] = ns;
    }
  }
  if (sink === 0) throw new Error('benchmark produced nothing');
  return best;
}

function mustBeValid(result: ReturnType<typeof checkPrediction>): true {
  if (!result.ok) throw new Error(`bench payload rejected: ${result.detail}`);
  return true;
}

export function main(): Record<string, unknown> {
  const events = Array.from({ length: DISTINCT_PAYLOADS }, (_, i) => samplePrediction(i));
  const msgpackPayloads = events.map((ev) => encodePrediction(ev));
  const jsonPayloads = events.map((ev) => encodeJson(ev));
  const msgpackBytes = Math.round(msgpackPayloads.reduce((sum, p) => sum + p.byteLength, 0) / msgpackPayloads.length);
  const jsonBytes = Math.round(jsonPayloads.reduce((sum, p) => sum + p.byteLength, 0) / jsonPayloads.length);

  const eventDecoder = new EventDecoder();
  const libraryDecoder = new Decoder();
  // msgpackr decodes 64-bit integers (a ms timestamp > 2^32 is one) as BigInt unless told otherwise.
  const unpackr = new Unpackr({ int64AsType: 'number', useRecords: false, mapsAsObjects: true });
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const maxFeatures = WIRE_LIMITS.maxFeatures;

  // sanity: every path yields the same valid event
  for (const [i, payload] of msgpackPayloads.entries()) {
    const viaMsgpack = eventDecoder.decodePrediction(payload);
    const viaMsgpackr = checkPrediction(unpackr.unpack(payload), maxFeatures, undefined);
    const viaJson = eventDecoder.decodePrediction(jsonPayloads[i]);
    if (!viaMsgpack.ok || !viaMsgpackr.ok || !viaJson.ok) throw new Error(`payload ${i} did not decode on every path`);
    if (JSON.stringify(viaMsgpackr.event) !== JSON.stringify(viaMsgpack.event)) throw new Error(`msgpackr decoded payload ${i} differently`);
  }

  const prebuilt = events.map((ev) => ({ ...ev }));
  let k = 0;
  const schema = new FeatureSchema(1024);
  const buffer = new FeatureBuffer(maxFeatures);
  const figures = measureInterleaved({
    msgpack_ns: { payloads: msgpackPayloads, fn: (data) => mustBeValid(eventDecoder.decodePrediction(data)) },
    msgpack_into_ns: { payloads: msgpackPayloads, fn: (data) => mustBeValid(eventDecoder.decodePredictionInto(data, schema, buffer, undefined, undefined)) },
    library_msgpack_ns: { payloads: msgpackPayloads, fn: (data) => mustBeValid(checkPrediction(libraryDecoder.decode(data), maxFeatures, undefined)) },
    msgpack_oneshot_ns: { payloads: msgpackPayloads, fn: (data) => mustBeValid(checkPrediction(msgpackDecodeOnce(data), maxFeatures, undefined)) },
    msgpackr_ns: { payloads: msgpackPayloads, fn: (data) => mustBeValid(checkPrediction(unpackr.unpack(data), maxFeatures, undefined)) },
    json_ns: { payloads: jsonPayloads, fn: (data) => mustBeValid(eventDecoder.decodePrediction(data)) },
    json_parse_only_ns: { payloads: jsonPayloads, fn: (data) => JSON.parse(utf8.decode(data)) },
    msgpackr_unpack_only_ns: { payloads: msgpackPayloads, fn: (data) => unpackr.unpack(data) },
    validate_only_ns: { payloads: msgpackPayloads, fn: () => mustBeValid(checkPrediction(prebuilt[k++ % prebuilt.length], maxFeatures, undefined)) },
  });

  if (buffer.count !== 12) throw new Error(`decodePredictionInto: ${buffer.count} features buffered, not 12`);

  const wideEvents = Array.from({ length: DISTINCT_PAYLOADS }, (_, i) => encodePrediction(widePrediction(i)));
  const wideSchema = new FeatureSchema(1024);
  const wideBuffer = new FeatureBuffer(maxFeatures);
  const wide = {
    ...measureInterleaved({ schema_ns: { payloads: wideEvents, fn: (data) => mustBeValid(eventDecoder.decodePredictionInto(data, wideSchema, wideBuffer, undefined, undefined)) } }),
    // fewer events a round: the library takes ~90 µs for one
    ...measureInterleaved({ library_ns: { payloads: wideEvents, fn: (data) => mustBeValid(checkPrediction(libraryDecoder.decode(data), maxFeatures, undefined)) } }, WIDE_EVENTS_PER_ROUND),
  };
  if (wideBuffer.count !== WIDE_NUMERIC + 2) throw new Error(`wide event: ${wideBuffer.count} features buffered, not ${WIDE_NUMERIC + 2}`);

  const ids = idShapeCosts(['uuid', 'short']);
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const rounded = Object.fromEntries(Object.entries(figures).map(([key, value]) => [key, Math.round(value)])) as Record<keyof typeof figures, number>;
  const result = {
    name: 'decode',
    msgpack_bytes: msgpackBytes,
    json_bytes: jsonBytes,
    ...rounded,
    msgpackr_vs_msgpack: ratio(figures.msgpackr_ns, figures.msgpack_ns),
    reader_vs_library: ratio(figures.msgpack_ns, figures.library_msgpack_ns),
    into_vs_library: ratio(figures.msgpack_into_ns, figures.library_msgpack_ns),
    json_vs_msgpack: ratio(figures.json_ns, figures.msgpack_ns),
    oneshot_vs_reused: ratio(figures.msgpack_oneshot_ns, figures.msgpack_ns),
    events_per_s_msgpack: Math.round(1e9 / figures.msgpack_ns),
    events_per_s_msgpackr: Math.round(1e9 / figures.msgpackr_ns),
    wide_ns: Math.round(wide.schema_ns),
    wide_library_ns: Math.round(wide.library_ns),
    wide_ns_per_feature: Math.round((wide.schema_ns / (WIDE_NUMERIC + 2)) * 10) / 10,
    wide_vs_library: ratio(wide.schema_ns, wide.library_ns),
    id_uuid_ns: Math.round(ids.uuid),
    id_short_ns: Math.round(ids.short),
    id_short_vs_uuid: ratio(ids.short, ids.uuid),
    cores: os.cpus().length,
  };

  console.log(`decode + validate of one prediction (msgpack ${msgpackBytes} B, JSON ${jsonBytes} B), best of ${ROUNDS} interleaved rounds x ${EVENTS_PER_ROUND}`);
  console.log(`  EventDecoder into a buffer (worker's path)     ${result.msgpack_into_ns} ns/event  (x${result.into_vs_library} of the library's)`);
  console.log(`  EventDecoder to an object                      ${result.msgpack_ns} ns/event  (${result.events_per_s_msgpack.toLocaleString('en-US')} events/s)`);
  console.log(`  @msgpack/msgpack, reused Decoder               ${result.library_msgpack_ns} ns/event  (ours x${result.reader_vs_library})`);
  console.log(`  @msgpack/msgpack, one-shot decode()            ${result.msgpack_oneshot_ns} ns/event  (x${result.oneshot_vs_reused} of reused)`);
  console.log(`  msgpackr Unpackr                               ${result.msgpackr_ns} ns/event  (x${result.msgpackr_vs_msgpack} of ours)`);
  console.log(`  JSON (utf8 + JSON.parse) via EventDecoder      ${result.json_ns} ns/event  (x${result.json_vs_msgpack} of ours)`);
  console.log(`  JSON.parse alone                               ${result.json_parse_only_ns} ns/event`);
  console.log(`  msgpackr unpack alone                          ${result.msgpackr_unpack_only_ns} ns/event`);
  console.log(`  validation alone                               ${result.validate_only_ns} ns/event`);
  console.log(`a wide event (${WIDE_NUMERIC} numeric + 2 categorical features), best of ${ROUNDS} rounds x ${EVENTS_PER_ROUND} (the library's x ${WIDE_EVENTS_PER_ROUND})`);
  console.log(`  the worker's decode (features into its buffer) ${result.wide_ns} ns/event  (${result.wide_ns_per_feature} ns per feature; x${result.wide_vs_library} of the library's)`);
  console.log(`  @msgpack/msgpack, reused Decoder + validation  ${result.wide_library_ns} ns/event  (the limit it replaced)`);
  console.log(`the worker's decode (features into its buffer) of ${ID_EVENTS.toLocaleString('en-US')} events with ids of their own, Buffer views into 64 KB reads, median of ${ID_ROUNDS}`);
  console.log(`  UUID ids (36 characters: the reference)        ${result.id_uuid_ns} ns/event`);
  console.log(`  short ids (req- and 10 digits)                 ${result.id_short_ns} ns/event  (x${result.id_short_vs_uuid} of UUID ids)`);
  console.log(JSON.stringify(result));
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main();
