import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { MessageSlabs } from '../../src/cluster/message-slabs.ts';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import { MsgpackReader } from '../../src/contract/msgpack-reader.ts';
import type { PaneUpdate } from '../../src/partition/processor.ts';
import { DEFAULT_PANE_LIMITS, inputToWire, outcomeToWire } from '../../src/window/pane.ts';
import type { WindowAggregate } from '../../src/window/windows.ts';
import { mixedStream, paneUpdates } from '../contract/pane-stream.ts';

const WINDOWS = ['1m', '5m', '1h'];
const MODELS = ['scores', 'prices', 'classes'];
const VERSIONS = [undefined, 'v1', 'v2'];

/** What two workers publish reading the same traffic on partitions 0 and 1, interleaved as the changelog holds them. */
function changelog(): PaneUpdate[] {
  const perPartition = [0, 1].map((partition) => paneUpdates(mixedStream(3000), 150, partition));
  for (const [partition, updates] of perPartition.entries()) {
    if (!updates.some((u) => u.subject.startsWith(`drift.pane.${partition}.`))) throw new Error(`no pane of partition ${partition}`);
  }
  const out: PaneUpdate[] = [];
  for (let k = 0; k < Math.max(...perPartition.map((u) => u.length)); k++) for (const updates of perPartition) if (k < updates.length) out.push(updates[k]);
  return out;
}

function wireOf(aggregate: WindowAggregate | undefined): unknown {
  return aggregate === undefined ? null : { input: inputToWire(aggregate.input), outcome: outcomeToWire(aggregate.outcome) };
}

/** Everything a reader of the store can see of each model: every window's aggregates by version, what is held, the history. */
function view(store: WindowStore): unknown {
  return MODELS.map((model) => {
    const windows = store.windowsOf(model);
    if (windows === undefined) return null;
    const aggregates: Record<string, unknown> = {};
    for (const name of WINDOWS) for (const version of VERSIONS) aggregates[`${name}/${version ?? 'all'}`] = wireOf(windows.get(name, version));
    return { aggregates, held: windows.heldStates, end: windows.end, history: wireOf(windows.sumRange(-Infinity, Infinity)) };
  });
}

describe("the gateway's pane messages applied from copies given back (PaneChangelogReader's MessageSlabs)", () => {
  it('leave windows that hold nothing of the copies: every copy scribbled over once applied, the store reads as one fed untouched bytes', () => {
    const updates = changelog();
    const finals = updates.filter((u) => decodePaneMessage(u.payload).final).length;
    expect(finals).toBeGreaterThan(0); // folds (a pane's partition states merged) are among what is checked
    expect(updates.some((u) => u.part === 'out')).toBe(true);

    const untouched = new WindowStore({ windows: WINDOWS, limits: DEFAULT_PANE_LIMITS, maxModels: 10 });
    const untouchedReader = new MsgpackReader();
    for (const u of updates) untouched.applyPaneMessage(decodePaneMessage(Buffer.from(u.payload), untouchedReader));

    // small slabs: each is written over many times in the run
    const slabs = new MessageSlabs({ slabBytes: 8192 });
    const copied = new WindowStore({ windows: WINDOWS, limits: DEFAULT_PANE_LIMITS, maxModels: 10 });
    const reader = new MsgpackReader();
    for (const u of updates) {
      const copy = slabs.copy(u.payload);
      if (copy === null) throw new Error(`a ${u.payload.length}-byte message was not copied`);
      copied.applyPaneMessage(decodePaneMessage(copy.bytes, reader));
      copy.release();
      copy.bytes.fill(0xa5);
    }
    expect(slabs.copies).toBe(updates.length);
    expect(slabs.slabsMade).toBe(1);
    expect(view(copied)).toEqual(view(untouched));
    expect((view(copied) as unknown[]).every((model) => model !== null)).toBe(true);
  });
});
