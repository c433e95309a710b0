import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { CsvReader, JsonLinesReader, ObjectRowReader, parseTrainingFile, readMessagePackRecords, TrainingFileError } from '../../src/reference/training-file.ts';
import type { TrainingFileOptions } from '../../src/reference/training-file.ts';
import { excludedByName, summarizeColumns } from '../../src/reference/column-table.ts';
import type { TrainingRow } from '../../src/reference/profile.ts';
import { ProfileBuilder } from '../../src/reference/profile-builder.ts';

function csvInChunks(text: string, size: number, opts: TrainingFileOptions = {}): { rows: TrainingRow[]; reader: CsvReader } {
  const rows: TrainingRow[] = [];
  const reader = new CsvReader(opts, (row) => rows.push(row));
  for (let i = 0; i < text.length; i += size) reader.push(text.slice(i, i + size));
  reader.end();
  return { rows, reader };
}

describe('streaming readers', () => {
  it('a CSV cut into chunks anywhere (inside quoted cells, between CR and LF) reads as the whole text', () => {
    const text = 'amount,note,output\r\n1.5,"a, ""quoted""\nnote",0.2\r\n2,plain,0.9\r\n\r\n3,"x",\r\n';
    const whole = parseTrainingFile(text, 'csv');
    expect(whole).toHaveLength(3);
    for (const size of [1, 2, 3, 5, 7, 64]) expect(csvInChunks(text, size).rows).toEqual(whole);
  });

  it('keeps CSV line numbers across chunks', () => {
    expect(() => csvInChunks('a,b\n1,2\n"x\ny",3\n4\n', 3)).toThrow(/^line 5: the row has 1 cell but the header has 2 columns/);
  });

  it('JSON Lines in chunks, with lines split across them', () => {
    const text = '{"a": 1, "output": 0.5}\n\n{"a": 2, "output": 0.7}\n{"a": 3}';
    const rows: TrainingRow[] = [];
    const reader = new JsonLinesReader({}, (row) => rows.push(row));
    for (let i = 0; i < text.length; i += 4) reader.push(text.slice(i, i + 4));
    reader.end();
    expect(rows).toEqual(parseTrainingFile(text, 'jsonl'));
    expect(() => {
      const r = new JsonLinesReader({}, () => undefined);
      r.push('{"a": 1}\n\n{"a": 2,}\n');
      r.end();
    }).toThrow(/^line 3: invalid JSON/);
  });
});

describe('label events of a log, joined to their predictions', () => {
  const T = 1717171717171;
  function read(events: object[], opts: TrainingFileOptions = {}) {
    const rows: TrainingRow[] = [];
    const outcomes: unknown[] = [];
    const reader = new JsonLinesReader(opts, (row) => rows.push(row), (outcome) => outcomes.push(outcome));
    reader.push(events.map((e) => JSON.stringify(e)).join('\n'));
    reader.end();
    return { rows, outcomes, stats: reader.objects.joinStats };
  }

  it('by model and id, in either order; copies count once; a failed inference is matched, not graded', () => {
    const { rows, outcomes, stats } = read([
      { id: 'a', model: 'm1', ts: T, output: 0.9, features: { x: 1 } },
      { id: 'a', model: 'm2', ts: T, output: 0.2, features: { x: 2 } }, // the same id under another model
      { id: 'b', model: 'm1', ts: T + 5, label: 0 }, // label before its prediction
      { id: 'a', model: 'm2', ts: T + 9, label: 1 },
      { id: 'b', model: 'm1', ts: T + 1, output: [0.3, 0.7], features: { x: 3 } },
      { id: 'a', model: 'm1', ts: T, output: 0.9, features: { x: 1 } }, // a copy of a logged prediction
      { id: 'a', model: 'm1', ts: T + 20, label: 1 },
      { id: 'a', model: 'm1', ts: T + 21, label: 1 }, // a copy of a label
      { id: 'c', model: 'm1', ts: T + 2, error: 'timeout', features: { x: 4 } },
      { id: 'c', model: 'm1', ts: T + 22, label: 0 },
      { id: 'never', model: 'm1', ts: T + 23, label: 1 }, // its prediction is not in the log
    ]);
    expect(rows.map((r) => r.features.x)).toEqual([1, 2, 3, 4]);
    expect(outcomes).toEqual([
      { output: 0.2, label: 1 }, // m2's own prediction, not m1's
      { output: '1', label: 0 }, // b: the vector's most probable class
      { output: 0.9, label: 1 },
    ]);
    expect(stats).toEqual({ labelEvents: 6, joined: 4, duplicatePredictions: 1, duplicateLabels: 1 });
  });

  it('a prediction event that carries its own label is graded once, even when a label event for it follows', () => {
    const { rows, outcomes, stats } = read([
      { id: 'x', model: 'm', ts: T, output: 0.9, label: 1, features: { x: 1 } },
      { id: 'x', model: 'm', ts: T + 5, label: 1 },
    ]);
    expect(rows).toEqual([{ features: { x: 1 }, output: 0.9, label: 1 }]);
    expect(outcomes).toEqual([]);
    expect(stats).toMatchObject({ labelEvents: 1, joined: 0, duplicateLabels: 1 });
  });

  it('a profile built from a log of predictions and labels carries the accuracy and calibration of the same rows labelled', () => {
    const events: object[] = [];
    const labelled: TrainingRow[] = [];
    let state = 7;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 3000; i++) {
      const score = Math.round(random() * 1000) / 1000;
      const label = random() < score * score ? 1 : 0; // over-confident scores: calibration matters
      const features = { amount: Math.round(random() * 500) / 10 };
      events.push({ id: `r${i}`, model: 'fraud', ts: T + i, output: score, features });
      labelled.push({ features, output: score, label });
      // labels arrive later in the log, some before their prediction
      if (i % 10 === 0) events.splice(Math.max(0, events.length - 3), 0, { id: `r${i}`, model: 'fraud', ts: T + i + 1, label });
      else events.push({ id: `r${i}`, model: 'fraud', ts: T + i + 50, label });
    }
    const fromLog = new ProfileBuilder('p', 'fraud', null);
    const reader = new JsonLinesReader({}, (row) => fromLog.add(row), ({ output, label }) => fromLog.addOutcome(output, label));
    reader.push(events.map((e) => JSON.stringify(e)).join('\n'));
    reader.end();
    const fromRows = new ProfileBuilder('p', 'fraud', null);
    for (const row of labelled) fromRows.add(row);
    const a = fromLog.build();
    const b = fromRows.build();
    expect(reader.objects.joinStats.joined).toBe(3000);
    expect(a.count).toBe(3000);
    expect(a.labeled).toBe(3000);
    expect(a.accuracy).toBe(b.accuracy);
    expect(a.accuracy).toBeGreaterThan(0.5);
    expect(a.calibration).toEqual(b.calibration);
    expect(a.scoreCalibration).toEqual(b.scoreCalibration);
    expect(a.scoreCalibration).not.toBeNull();
    // the accuracy, counted here independently: score >= 0.5 predicts 1
    const correct = labelled.filter((r) => ((r.output as number) >= 0.5 ? 1 : 0) === r.label).length;
    expect(a.accuracy).toBe(correct / 3000);
  });
});

describe('what a record is', () => {
  it('a logged wire-format prediction event: exactly its features are features; label events are not rows; a vector output is its most probable class', () => {
    const text = [
      { id: 'r1', model: 'fraud', version: 'v7', ts: 1717171717171, output: 0.83, features: { amount: 120.5, country: 'FR', merchant: null }, latencyMs: 12.5, segment: { region: 'eu' } },
      { id: 'r2', model: 'fraud', ts: 1717171717172, error: 'timeout', features: { amount: 3 } },
      { id: 'r3', model: 'fraud', ts: 1717171717173, output: [0.1, 0.9], features: { amount: 4, country: 'DE' } },
      { id: 'r1', model: 'fraud', ts: 1717171719999, label: 1 },
    ]
      .map((event) => JSON.stringify(event))
      .join('\n');
    const rows: TrainingRow[] = [];
    const reader = new JsonLinesReader({}, (row) => rows.push(row));
    reader.push(text);
    reader.end();
    expect(rows).toEqual([
      { features: { amount: 120.5, country: 'FR', merchant: null }, output: 0.83 },
      { features: { amount: 3 } },
      { features: { amount: 4, country: 'DE' }, output: '1' },
    ]);
    expect(reader.objects.labelEvents).toBe(1);
    const table = summarizeColumns(reader.objects.columnStats(), rows.length);
    expect(table.filter((c) => c.role === 'feature').map((c) => c.name)).toEqual(['amount', 'country', 'merchant']);
    expect(table.find((c) => c.name === 'merchant')).toMatchObject({ type: 'empty', count: 0, missingShare: 1 });
    expect(table.filter((c) => c.role === 'ignored').map((c) => [c.name, c.reason])).toEqual([
      ['id', 'not a feature'],
      ['model', 'not a feature'],
      ['version', 'not a feature'],
      ['ts', 'not a feature'],
      ['latencyMs', 'not a feature'],
      ['segment', 'not a feature'],
      ['error', 'not a feature'],
    ]);
  });

  it('flat objects and CSV rows: columns named like ids and timestamps are not features', () => {
    for (const name of ['id', 'ID', 'user_id', 'userId', 'request-id', 'uuid', 'ts', 'timestamp', 'created_at', 'createdAt', 'event_time']) expect(excludedByName(name), name).not.toBeNull();
    for (const name of ['amount', 'paid', 'valid', 'format', 'flat', 'idle', 'tsunami', 'country']) expect(excludedByName(name), name).toBeNull();
    const { rows, reader } = csvInChunks('id,amount,kind,n_items,empty,created_at,output\nr1,1.5,a,1,,2024-01-01,0.1\nr2,2.5,b,2,,2024-01-02,0.9\nr3,,a,1,,2024-01-03,0.4\n', 1000);
    expect(rows[0]).toEqual({ features: { amount: 1.5, kind: 'a', n_items: 1, empty: null }, output: 0.1 });
    expect(summarizeColumns(reader.columnStats(), rows.length).map((c) => [c.name, c.role, c.reason, c.type, c.count, Number(c.missingShare.toFixed(3))])).toEqual([
      ['id', 'ignored', 'id', 'categorical', 3, 0],
      ['amount', 'feature', null, 'numeric', 2, 0.333],
      ['kind', 'feature', null, 'categorical', 3, 0],
      ['n_items', 'feature', null, 'discrete', 3, 0],
      // An all-null column is not typed numeric.
      ['empty', 'feature', null, 'empty', 0, 1],
      ['created_at', 'ignored', 'timestamp', 'categorical', 3, 0],
      ['output', 'output', null, 'numeric', 3, 0],
    ]);
  });

  it("a CSV's model column names the rows' model: it is not profiled as a feature", () => {
    expect(excludedByName('model')).toBe('model');
    expect(excludedByName('Model')).toBe('model');
    expect(excludedByName('model_family')).toBeNull();
    const { rows, reader } = csvInChunks('id,model,amount,output\nr1,fraud,1.5,0.1\nr2,fraud,2.5,0.9\n', 1000);
    expect(rows[0]).toEqual({ features: { amount: 1.5 }, output: 0.1 });
    expect(summarizeColumns(reader.columnStats(), rows.length).find((c) => c.name === 'model')).toMatchObject({ role: 'ignored', reason: 'model' });
  });

  it('a column named on the command line that the file does not have is an error listing the columns', () => {
    expect(() => csvInChunks('id,amount,output\n1,2,3\n', 100, { ignore: ['idd'] })).toThrow("line 1: the ignored column 'idd' is not in the file (columns: id, amount, output)");
    expect(() => parseTrainingFile('{"amount": 1, "score": 2}', 'jsonl', { ignore: ['amout'] })).toThrow("the ignored column 'amout' is not in the file (columns: amount, score)");
    expect(() => parseTrainingFile('{"features": {"a": 1}, "output": 1}', 'jsonl', { labelColumn: 'truth' })).toThrow("the label column 'truth' is not in the file (columns: a, output)");
  });

  it('a MessagePack stream of events, in chunks of any size', async () => {
    const events = Array.from({ length: 50 }, (_, i) => ({ id: `e${i}`, model: 'm', ts: 1_700_000_000_000 + i, output: i / 50, features: { x: i, c: i % 2 === 0 ? 'even' : 'odd' } }));
    const bytes = Buffer.concat(events.map((e) => encode(e)));
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 13) yield bytes.subarray(i, i + 13);
    }
    const rows: TrainingRow[] = [];
    const reader = new ObjectRowReader({}, (row) => rows.push(row));
    await readMessagePackRecords(chunks(), reader);
    expect(rows).toHaveLength(50);
    expect(rows[7]).toEqual({ features: { x: 7, c: 'odd' }, output: 7 / 50 });
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Uint8Array.from([...encode({ id: 'a', model: 'm', ts: 1, features: { x: [1] }, output: 1 })]);
    }
    await expect(readMessagePackRecords(broken(), new ObjectRowReader({}, () => undefined))).rejects.toThrow(new TrainingFileError('record 1: features.x must be a number, a string or null, got an array', 1));
  });
});
