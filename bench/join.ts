/**
 * Late-label join bench: memory per pending entry at 1M entries, and the cost of addPrediction
 * and of a join (addLabel that finds its prediction) at that size; and the joined-id memory
 * (what lets a copy arriving after the join count once): bytes per joined id at 1M joined, and
 * the cost of recognising a copy.
 *
 *   npx tsx bench/join.ts                      (gc enabled at runtime through v8 flags when possible)
 *   node --expose-gc --import tsx bench/join.ts
 *
 * Memory is measured two ways: the table's own count of typed-array bytes (memoryBytes / size),
 * and the process's heapUsed + arrayBuffers delta across the fill, after forced GCs (ids are
 * generated before the baseline, so only the table is in the delta).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { AddPredictionStatus, LabelJoinStatus, PendingJoinTable } from '../src/join/pending-table.ts';

const ENTRIES = 1_000_000;
const BATCH = 200_000;
const ROUNDS = 3;
const BUDGET_BYTES_PER_ENTRY = 200;
const T0 = 1_700_000_000_000;

type GcMethod = 'expose-gc' | 'v8-flag' | 'none';

function findGc(): { gc: (() => void) | null; method: GcMethod } {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return { gc: exposed, method: 'expose-gc' };
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return { gc: gc as () => void, method: 'v8-flag' };
  } catch {
    // fall through: report memoryBytes only
  }
  return { gc: null, method: 'none' };
}

function processBytes(gc: (() => void) | null): number {
  if (gc !== null) for (let i = 0; i < 3; i++) gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * randomUUID() returns a rope of ~20 concatenated pieces (~500 bytes of heap) that the first
 * charCodeAt flattens; ids decoded from a message are flat strings, so the bench uses flat copies
 * (otherwise the flattening inside the table shows up as a large negative memory delta).
 */
function flatId(id: string): string {
  return Buffer.from(id, 'latin1').toString('latin1');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Wall and CPU time of a run: the machine is shared, so CPU time is the steadier figure. */
interface Timing {
  wallNs: number;
  cpuNs: number;
}

function startTimer(): () => Timing {
  const wall0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  return () => {
    const cpu = process.cpuUsage(cpu0);
    return { wallNs: Number(process.hrtime.bigint() - wall0), cpuNs: (cpu.user + cpu.system) * 1000 };
  };
}

function perOp(t: Timing, ops: number): Timing {
  return { wallNs: t.wallNs / ops, cpuNs: t.cpuNs / ops };
}

interface MemoryFigures {
  typedBytesPerEntry: number;
  processBytesPerEntry: number | null;
  fill: Timing;
}

function measureFill(ids: string[], gc: (() => void) | null): { table: PendingJoinTable; figures: MemoryFigures } {
  const before = processBytes(gc);
  const table = new PendingJoinTable({ capacity: ENTRIES, horizonMs: 3_600_000 });
  const segments = ['country=FR', 'country=US', 'country=DE', null];
  const stop = startTimer();
  for (let i = 0; i < ids.length; i++) {
    table.addPrediction(ids[i], T0 + i, i % 10 === 0 ? 'fraud:v4-canary' : 'fraud:v3', (i % 97) / 97, (i % 89) / 89, segments[i & 3], T0 + i);
  }
  const fill = perOp(stop(), ids.length);
  const after = processBytes(gc);
  if (table.size !== ids.length) throw new Error(`expected ${ids.length} pending entries, got ${table.size}`);
  return {
    table,
    figures: {
      typedBytesPerEntry: table.memoryBytes() / table.size,
      processBytesPerEntry: gc === null ? null : (after - before) / table.size,
      fill,
    },
  };
}

function medianTiming(runs: Timing[]): Timing {
  return { wallNs: median(runs.map((r) => r.wallNs)), cpuNs: median(runs.map((r) => r.cpuNs)) };
}

/**
 * Steady state around 1M pending: join BATCH pending ids (shuffled among the oldest 2*BATCH, a
 * spread of label delays), then add BATCH new predictions; ROUNDS times, medians reported.
 */
function measureHotPath(table: PendingJoinTable, initialIds: string[]): { join: Timing; add: Timing } {
  const joins: Timing[] = [];
  const adds: Timing[] = [];
  let pendingIds = initialIds; // in insertion order
  let clock = T0 + ENTRIES;
  for (let round = 0; round < ROUNDS; round++) {
    const window = pendingIds.slice(0, 2 * BATCH);
    for (let i = window.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      const t = window[i];
      window[i] = window[j];
      window[j] = t;
    }
    // Fresh copies, allocated in arrival order: a label's id has just been decoded, so the string
    // itself is cache-hot in a worker; only the table's side of the lookup should be cold here.
    const toJoin = window.slice(0, BATCH).map(flatId);
    let joined = 0;
    let stop = startTimer();
    for (let i = 0; i < toJoin.length; i++) {
      if (table.addLabel(toJoin[i], i & 1, clock + i, clock + i) === LabelJoinStatus.Joined) joined++;
    }
    joins.push(perOp(stop(), toJoin.length));
    if (joined !== toJoin.length) throw new Error(`only ${joined} of ${toJoin.length} labels joined`);
    clock += BATCH;

    const newIds: string[] = [];
    for (let i = 0; i < BATCH; i++) newIds.push(flatId(randomUUID()));
    stop = startTimer();
    for (let i = 0; i < newIds.length; i++) table.addPrediction(newIds[i], clock + i, 'fraud:v3', 0.5, 0.5, null, clock + i);
    adds.push(perOp(stop(), newIds.length));
    clock += BATCH;

    const joinedSet = new Set(toJoin); // equal strings: Set compares by value
    pendingIds = pendingIds.filter((id) => !joinedSet.has(id)).concat(newIds);
  }
  return { join: medianTiming(joins), add: medianTiming(adds) };
}

const fmt = (t: Timing): string => `${t.cpuNs.toFixed(0)} ns CPU (${t.wallNs.toFixed(0)} ns wall)`;
const round1 = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);

function memoryLine(label: string, m: MemoryFigures): string {
  return (
    `${label}: ${m.typedBytesPerEntry.toFixed(1)} B/entry (memoryBytes), ` +
    `${m.processBytesPerEntry === null ? 'n/a' : m.processBytesPerEntry.toFixed(1)} B/entry (process delta), fill ${fmt(m.fill)} per add`
  );
}

function uuidPhase(gc: (() => void) | null) {
  const ids: string[] = [];
  for (let i = 0; i < ENTRIES; i++) ids.push(flatId(randomUUID()));
  const { table, figures: uuid } = measureFill(ids, gc);
  console.log(memoryLine('uuid ids   ', uuid));
  const hot = measureHotPath(table, ids);
  console.log(`at 1M       : addPrediction ${fmt(hot.add)}, join (addLabel found) ${fmt(hot.join)}; median of ${ROUNDS} x ${BATCH.toLocaleString()}`);
  let stop = startTimer();
  const snapshot = table.toBytes();
  const save = stop();
  stop = startTimer();
  const restored = PendingJoinTable.fromBytes(snapshot);
  const restore = stop();
  console.log(
    `snapshot    : ${(snapshot.length / 1e6).toFixed(1)} MB for ${restored.size.toLocaleString()} entries ` +
      `(${(snapshot.length / restored.size).toFixed(1)} B/entry), toBytes ${(save.cpuNs / 1e6).toFixed(0)} ms CPU, fromBytes ${(restore.cpuNs / 1e6).toFixed(0)} ms CPU`,
  );
  return { uuid, hot, snapshotBytesPerEntry: snapshot.length / restored.size, saveMs: save.cpuNs / 1e6, restoreMs: restore.cpuNs / 1e6 };
}

/** 1M predictions joined (half label-first), then 200k copies of joined predictions: bytes per remembered id, ns per copy recognised. */
function joinedPhase(): { bytesPerJoinedId: number; copy: Timing } {
  const table = new PendingJoinTable({ capacity: ENTRIES, horizonMs: 3_600_000 });
  const ids: string[] = [];
  for (let i = 0; i < ENTRIES; i++) ids.push(flatId(randomUUID()));
  for (let i = 0; i < ENTRIES; i++) {
    const ts = T0 + Math.floor(i * 3.6); // 1M predictions over the hour
    if ((i & 1) === 0) {
      table.addPrediction(ids[i], ts, 'fraud:v3', 0.5, 0.5, null, ts, 'fraud');
      table.addLabel(ids[i], 1, ts + 1, ts, 'fraud');
    } else {
      table.addLabel(ids[i], 1, ts + 1, ts, 'fraud');
      table.addPrediction(ids[i], ts, 'fraud:v3', 0.5, 0.5, null, ts, 'fraud');
    }
  }
  if (table.joinedSize !== ENTRIES) throw new Error(`${table.joinedSize} joined ids remembered, expected ${ENTRIES}`);
  const bytesPerJoinedId = table.joinedMemoryBytes() / table.joinedSize;
  const copies = Array.from({ length: BATCH }, (_, k) => flatId(ids[(k * 7919) % ENTRIES]));
  const tsOf = (k: number) => T0 + Math.floor(((k * 7919) % ENTRIES) * 3.6);
  const now = T0 + Math.floor(ENTRIES * 3.6);
  const stop = startTimer();
  let recognised = 0;
  for (let k = 0; k < copies.length; k++) if (table.addPrediction(copies[k], tsOf(k), 'fraud:v3', 0.5, 0.5, null, now, 'fraud') === AddPredictionStatus.DuplicateJoined) recognised++;
  const copy = perOp(stop(), copies.length);
  if (recognised !== copies.length) throw new Error(`only ${recognised} of ${copies.length} copies recognised`);
  console.log(`joined ids  : ${bytesPerJoinedId.toFixed(1)} B per remembered id at ${ENTRIES.toLocaleString()}; a copy after its join recognised in ${fmt(copy)}`);
  return { bytesPerJoinedId, copy };
}

export function main(): void {
  const { gc, method } = findGc();
  console.log(
    `join bench: ${ENTRIES.toLocaleString()} pending entries; memory from ` +
      (method === 'none' ? 'memoryBytes() only (gc not available)' : `memoryBytes() and process.memoryUsage() heapUsed+arrayBuffers after gc (${method})`),
  );

  // 1. lowercase UUID v4 ids (packed to 16 bytes)
  const { uuid, hot, snapshotBytesPerEntry, saveMs, restoreMs } = uuidPhase(gc);

  // 2. 36-character ids that are not lowercase UUIDs (stored as 36 text bytes)
  const ids: string[] = [];
  for (let i = 0; i < ENTRIES; i++) ids.push(flatId(randomUUID().toUpperCase()));
  const { figures: text } = measureFill(ids, gc);
  console.log(memoryLine('text36 ids ', text));
  const joined = joinedPhase();
  const worst = Math.max(uuid.typedBytesPerEntry, uuid.processBytesPerEntry ?? 0, text.typedBytesPerEntry, text.processBytesPerEntry ?? 0);
  console.log(`budget      : worst ${worst.toFixed(1)} B/entry = ${(worst / BUDGET_BYTES_PER_ENTRY).toFixed(2)} x the ${BUDGET_BYTES_PER_ENTRY} B budget`);

  console.log(
    JSON.stringify({
      name: 'join',
      entries: ENTRIES,
      memoryMethod: method === 'none' ? 'memoryBytes' : `process.memoryUsage+gc(${method})`,
      uuidBytesPerEntryTyped: round1(uuid.typedBytesPerEntry),
      uuidBytesPerEntryProcess: round1(uuid.processBytesPerEntry),
      text36BytesPerEntryTyped: round1(text.typedBytesPerEntry),
      text36BytesPerEntryProcess: round1(text.processBytesPerEntry),
      worstBytesPerEntry: round1(worst),
      ratioToBudget200: Math.round((worst / BUDGET_BYTES_PER_ENTRY) * 1000) / 1000,
      cpuNsPerAddPredictionAt1M: Math.round(hot.add.cpuNs),
      cpuNsPerJoinAt1M: Math.round(hot.join.cpuNs),
      wallNsPerAddPredictionAt1M: Math.round(hot.add.wallNs),
      wallNsPerJoinAt1M: Math.round(hot.join.wallNs),
      cpuNsPerAddDuringFill: Math.round(uuid.fill.cpuNs),
      snapshotBytesPerEntry: round1(snapshotBytesPerEntry),
      snapshotCpuMs: Math.round(saveMs),
      restoreCpuMs: Math.round(restoreMs),
      joinedBytesPerId: round1(joined.bytesPerJoinedId),
      cpuNsPerCopyAfterJoin: Math.round(joined.copy.cpuNs),
      loadAverage1m: Math.round(os.loadavg()[0] * 10) / 10,
      cores: os.cpus().length,
    }),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
