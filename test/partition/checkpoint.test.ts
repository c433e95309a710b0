import { describe, expect, it } from 'vitest';
import { decode, encode } from '@msgpack/msgpack';
import { PartitionProcessor, CheckpointError } from '../../src/partition/processor.ts';
import { frameSnapshot, openSnapshotFrame } from '../../src/join/snapshot-bytes.ts';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import { feed, mixedStream, processorOptions } from '../contract/pane-stream.ts';

const MAGIC = 0x43505744; // 'DWPC'
const messages = mixedStream(900);

function processor(): PartitionProcessor {
  return feed(new PartitionProcessor(processorOptions), messages);
}

/** The MessagePack body of a current checkpoint, as plain data. */
function bodyOf(bytes: Uint8Array): Record<string, unknown> {
  const { body } = openSnapshotFrame(bytes, MAGIC, [2], (problem) => new Error(problem));
  return decode(body) as Record<string, unknown>;
}

/** What the checkpoint code before the frame wrote: the bare MessagePack object, `v: 1` first. */
function formatOne(bytes: Uint8Array): Uint8Array {
  return encode({ v: 1, ...bodyOf(bytes) });
}

/** Everything a restored processor will publish and hold. */
function stateOf(p: PartitionProcessor): unknown {
  return {
    seq: p.seq,
    watermark: p.watermark,
    counters: structuredClone(p.counters),
    join: p.join.toBytes(),
    panes: p.drainDirty().map((u) => ({ subject: u.subject, message: decodePaneMessage(u.payload) })),
  };
}

function refusal(bytes: Uint8Array): CheckpointError {
  try {
    PartitionProcessor.restore(bytes, processorOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('the checkpoint was accepted');
}

describe('partition checkpoints', () => {
  const original = processor();
  const bytes = original.snapshot();

  it('are framed like the join table: magic, format version 2, checksum', () => {
    expect(Array.from(bytes.subarray(0, 4), (b) => String.fromCharCode(b)).join('')).toBe('DWPC');
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint16(4, true)).toBe(2);
    expect(bodyOf(bytes).partition).toBe(0);
  });

  it('restore the same state from format 2 and from format 1 (written before the frame)', () => {
    const expected = stateOf(PartitionProcessor.restore(bytes, processorOptions));
    expect(stateOf(PartitionProcessor.restore(formatOne(bytes), processorOptions))).toEqual(expected);
    // and a restored processor continues exactly like the original
    const restored = PartitionProcessor.restore(formatOne(bytes), processorOptions);
    // the stream of 1000 events begins with the 900 already read
    const more = mixedStream(1000).slice(messages.length);
    for (const [k, m] of more.entries()) {
      original.process(2000 + k, m.subject, m.data);
      restored.process(2000 + k, m.subject, m.data);
    }
    expect(restored.snapshot()).toEqual(original.snapshot());
  });

  it('refuse a flipped byte anywhere, naming the checksum, magic or version', () => {
    const before = original.snapshot();
    for (const at of [0, 4, 9, Math.floor(bytes.length / 2), bytes.length - 20, bytes.length - 1]) {
      const damaged = Uint8Array.from(bytes);
      damaged[at] ^= 0x10;
      expect(refusal(damaged).message).toMatch(/checkpoint of partition 0 is invalid: (checksum mismatch|bad magic|unsupported format version)/);
    }
    expect(original.snapshot()).toEqual(before);
  });

  it('refuse a truncated copy', () => {
    for (const length of [0, 5, 11, 100, bytes.length - 1]) {
      expect(refusal(bytes.subarray(0, length)).message).toMatch(/too short|checksum mismatch/);
    }
  });

  it('refuse a checkpoint of another partition or an unknown format', () => {
    expect(() => PartitionProcessor.restore(bytes, { ...processorOptions, partition: 1 })).toThrow(/it is of partition 0, expected 1/);
    expect(refusal(encode({ ...bodyOf(bytes), v: 3 })).message).toMatch(/unsupported snapshot version 3/);
    expect(refusal(frameSnapshot(MAGIC, 3, encode(bodyOf(bytes)))).message).toMatch(/unsupported format version 3/);
  });

  describe('with an intact checksum but a bad field, name the field', () => {
    interface Body {
      seq?: unknown;
      counters: Record<string, unknown>;
      groups: Array<{ inputs: Array<[number, Record<string, unknown>]>; outcomes: Array<[number, { labelDelay: Uint8Array } & Record<string, unknown>]>; detectors: unknown[] }>;
      join: Uint8Array;
    }
    const cases: Array<[string, (body: Body) => void, RegExp]> = [
      ['a NaN pane count', (b) => (b.groups[0].inputs[0][1].count = NaN), /groups\[0\]\.inputs\[0\]\[1\]\.count/],
      ['truncated pane sketch bytes', (b) => (b.groups[0].outcomes[0][1].labelDelay = b.groups[0].outcomes[0][1].labelDelay.subarray(0, 20)), /groups\[0\]\.outcomes\[0\]\[1\]\.labelDelay: .*truncated/],
      ['a bad sparse index', (b) => (b.groups[0].inputs[0][1].scores = { n: 204, i: [999], v: [1] }), /groups\[0\]\.inputs\[0\]\[1\]\.scores\.i\[0\]/],
      ['a detector state of an unknown kind', (b) => (b.groups[0].detectors[0] = { kind: 'nope' }), /groups\[0\]\.detectors\[0\]: /],
      ['damaged join table bytes', (b) => (b.join = b.join.subarray(0, b.join.length - 3)), /join: join table snapshot is invalid/],
      ['a counter of the wrong type', (b) => (b.counters.predictions = 'many'), /counters\.predictions/],
      ['a refusal count that is not a count', (b) => (b.counters.refusedByModel = [['limit_exceeded|m', -1]]), /counters\.refusedByModel\[0\]\[1\]: expected a count/],
      ['a refusal without its model', (b) => (b.counters.refusedByModel = [['', 3]]), /counters\.refusedByModel\[0\]\[0\]: expected a non-empty string/],
      ['a group listed twice', (b) => b.groups.push(b.groups[0]), /appears twice/],
      ['no sequence', (b) => delete b.seq, /seq: expected an integer/],
    ];
    it.each(cases)('%s', (_, edit, message) => {
      const body = bodyOf(bytes);
      edit(body as unknown as Body);
      expect(refusal(frameSnapshot(MAGIC, 2, encode(body))).message).toMatch(message);
      // format 1 has no checksum: the same damage is caught by the same field checks
      expect(refusal(encode({ v: 1, ...body })).message).toMatch(message);
    });
  });
});
