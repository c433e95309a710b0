import { describe, expect, it } from 'vitest';
import { decode, encode } from '@msgpack/msgpack';
import { decodePaneMessage, PaneMessageError } from '../../src/contract/pane-codec.ts';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import { decodeCheckpoint } from '../../src/partition/checkpoint.ts';
import { DEFAULT_PANE_LIMITS } from '../../src/window/pane.ts';
import { feed, mixedStream, processorOptions } from './pane-stream.ts';

const messages = mixedStream(300);
const owner = { worker: 'host-8081', epoch: 4711 };

function refusal(raw: Record<string, unknown>): PaneMessageError {
  try {
    decodePaneMessage(encode(raw));
  } catch (error) {
    expect(error).toBeInstanceOf(PaneMessageError);
    return error as PaneMessageError;
  }
  throw new Error('the message was accepted');
}

describe('pane messages and checkpoints carry the producing worker and its lease epoch', () => {
  const leased = feed(new PartitionProcessor({ ...processorOptions, owner }), messages);
  const updates = leased.drainDirty();

  it('stamps every pane message and puts the epoch in its subject (one subject per epoch in DRIFT_PANES)', () => {
    expect(updates.length).toBeGreaterThan(10);
    for (const update of updates) {
      const message = decodePaneMessage(update.payload);
      expect(message.worker).toBe('host-8081');
      expect(message.epoch).toBe(4711);
      expect(update.subject.endsWith(`.${update.part}.4711`)).toBe(true);
    }
  });

  it('leaves messages of a processor without a lease (and of older workers) unfenced, and still decodes them', () => {
    const plain = feed(new PartitionProcessor(processorOptions), messages).drainDirty();
    const message = decodePaneMessage(plain[0].payload);
    expect('worker' in message).toBe(false);
    expect('epoch' in message).toBe(false);
    expect(plain[0].subject.endsWith(`.${plain[0].part}`)).toBe(true);
    // an older worker's message: no worker/epoch keys at all
    const raw = decode(updates[0].payload) as Record<string, unknown>;
    delete raw.worker;
    delete raw.epoch;
    const old = decodePaneMessage(encode(raw));
    expect(old.worker).toBeUndefined();
    expect(old.epoch).toBeUndefined();
    expect(old.state).toEqual(decodePaneMessage(updates[0].payload).state);
  });

  it('refuses a worker without an epoch, an epoch without a worker, or a bad epoch, naming the field', () => {
    const raw = () => decode(updates[0].payload) as Record<string, unknown>;
    const noEpoch = raw();
    delete noEpoch.epoch;
    expect(refusal(noEpoch).field).toBe('epoch');
    const noWorker = raw();
    delete noWorker.worker;
    expect(refusal(noWorker).field).toBe('worker');
    expect(refusal({ ...raw(), epoch: 0 }).field).toBe('epoch');
    expect(refusal({ ...raw(), epoch: '7' }).field).toBe('epoch');
    expect(refusal({ ...raw(), epoch: 1.5 }).field).toBe('epoch');
    expect(refusal({ ...raw(), worker: '' }).field).toBe('worker');
  });

  it('records the owner in the checkpoint; older checkpoints read as having none', () => {
    const checkpoint = decodeCheckpoint(leased.snapshot(), 0, DEFAULT_PANE_LIMITS);
    expect(checkpoint.owner).toEqual(owner);
    const unowned = decodeCheckpoint(feed(new PartitionProcessor(processorOptions), messages).snapshot(), 0, DEFAULT_PANE_LIMITS);
    expect(unowned.owner).toBeNull();
    // a restored processor under a new lease publishes under its own epoch, not the checkpoint's
    const restored = PartitionProcessor.restore(leased.snapshot(), { ...processorOptions, owner: { worker: 'other', epoch: 5000 } });
    const republished = restored.drainDirty().map((u) => decodePaneMessage(u.payload));
    expect(republished.length).toBeGreaterThan(0);
    expect(new Set(republished.map((m) => `${m.worker}@${m.epoch}`))).toEqual(new Set(['other@5000']));
  });
});
