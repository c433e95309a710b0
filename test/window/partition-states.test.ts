import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PaneStates, SHARED_HEADROOM, SHARED_STATE_MAX_BYTES } from '../../src/window/partition-states.ts';
import { packPaneState, packStateBytes, unpackPaneState } from '../../src/window/packed-state.ts';
import { DEFAULT_PANE_LIMITS, PaneOutcome, outcomeToWire } from '../../src/window/pane.ts';
import type { PaneOutcomeWire } from '../../src/contract/pane-wire.ts';
import { encode } from '@msgpack/msgpack';

/** A state's MessagePack as a message carries it (the content does not matter to the store). */
function stateBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

function outcomeWire(labels: number): PaneOutcomeWire {
  const pane = new PaneOutcome(DEFAULT_PANE_LIMITS);
  for (let i = 0; i < labels; i++) pane.addJoined(i % 3 === 0 ? 1 : 0, i % 2, 0.5, 1000 * i, false, null);
  return outcomeToWire(pane);
}

type Held = { bytes: Uint8Array; final: boolean } | { wire: PaneOutcomeWire; packed: boolean; final: boolean };

type Step =
  | { kind: 'bytes'; partition: number; length: number; seed: number; final: boolean }
  | { kind: 'wire'; partition: number; labels: number; final: boolean }
  | { kind: 'takeFinal' }
  | { kind: 'pack' }
  | { kind: 'quiet' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('bytes' as const), partition: fc.integer({ min: 0, max: 15 }), length: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: SHARED_STATE_MAX_BYTES - 4, max: SHARED_STATE_MAX_BYTES + 200 })), seed: fc.nat(1000), final: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wire' as const), partition: fc.integer({ min: 0, max: 15 }), labels: fc.integer({ min: 0, max: 5 }), final: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'takeFinal' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'pack' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'quiet' as const }) },
);

/** What `states` holds for each partition, as the bytes or wire state it was given. */
function expectHolds(states: PaneStates, model: Map<number, Held>): void {
  expect(states.size).toBe(model.size);
  expect(states.hasFinal()).toBe([...model.values()].some((held) => held.final));
  for (const [partition, held] of model) {
    const slot = states.slotOf(partition);
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(states.partitionAt(slot)).toBe(partition);
    expect(states.finalAt(slot)).toBe(held.final);
    const state = states.stateAt(slot);
    if ('bytes' in held) expect(state).toEqual(packStateBytes(held.bytes));
    else if (held.packed) expect(unpackPaneState(state as Uint8Array)).toEqual(held.wire);
    else expect(state).toBe(held.wire);
  }
}

describe('a pane\'s partition states', () => {
  it('hold each partition\'s latest state, byte for byte, through replacements, packing and finals taken out', () => {
    fc.assert(
      fc.property(fc.constantFrom('in' as const, 'out' as const), fc.array(step, { maxLength: 80 }), (part, steps) => {
        const states = new PaneStates('v1', 60_000, part);
        const model = new Map<number, Held>();
        let mostShared = 0;
        for (const s of steps) {
          if (s.kind === 'bytes') {
            const bytes = stateBytes(s.length, s.seed);
            states.setBytes(s.partition, bytes, s.final);
            model.set(s.partition, { bytes, final: s.final });
          } else if (s.kind === 'wire') {
            const wire = outcomeWire(s.labels);
            states.setState(s.partition, wire, s.final);
            model.set(s.partition, { wire, packed: false, final: s.final });
          } else if (s.kind === 'pack') {
            states.packObjects();
            for (const held of model.values()) if ('wire' in held && !held.final) held.packed = true;
          } else if (s.kind === 'quiet') {
            const live = states.heldBytes(() => 0);
            states.pack();
            // the shared states deflated, the array they were in let go: never more than they held
            if (states.packedLength > 0) expect(states.sharedCapacity).toBe(0);
            expect(states.heldBytes(() => 0)).toBeLessThanOrEqual(live);
          } else {
            const taken = states.takeFinal();
            const finals = [...model].filter(([, held]) => held.final);
            expect(taken.map((member) => member.partition).sort((a, b) => a - b)).toEqual(finals.map(([partition]) => partition).sort((a, b) => a - b));
            for (const member of taken) {
              const held = model.get(member.partition) as Held;
              if ('bytes' in held) expect(member.state).toEqual(packStateBytes(held.bytes));
              expect(member.shared).toBe(part === 'out' && 'bytes' in held && held.bytes.length + 2 <= SHARED_STATE_MAX_BYTES);
              model.delete(member.partition);
            }
          }
          expectHolds(states, model);
          // the shared array holds an outcome pane's short states, with room for a quarter more
          let shared = 0;
          for (const held of model.values()) if (part === 'out' && 'bytes' in held && held.bytes.length + 2 <= SHARED_STATE_MAX_BYTES) shared += held.bytes.length + 2;
          mostShared = Math.max(mostShared, shared);
          expect(states.sharedCapacity).toBeLessThanOrEqual(Math.ceil(mostShared * (1 + SHARED_HEADROOM)));
          if (s.kind === 'takeFinal' && shared === 0) expect(states.sharedCapacity).toBe(0);
          if (part === 'in') expect(states.sharedCapacity).toBe(0);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keep a view taken before a replacement whole, however often the shared bytes are rewritten', () => {
    const states = new PaneStates('v1', 0, 'out');
    for (let partition = 0; partition < 16; partition++) states.setBytes(partition, stateBytes(300, partition), false);
    const before = states.stateAt(states.slotOf(5)) as Uint8Array;
    const copy = before.slice();
    for (let round = 0; round < 40; round++) for (let partition = 0; partition < 16; partition++) states.setBytes(partition, stateBytes(300 + round, 100 + round * 16 + partition), false);
    expect(before).toEqual(copy);
    expect(states.stateAt(states.slotOf(5))).toEqual(packStateBytes(stateBytes(339, 100 + 39 * 16 + 5)));
  });

  it('share one array among small states, so an hour of open outcome states costs about their bytes', () => {
    const states = new PaneStates('v1', 0, 'out');
    const wire = outcomeWire(3);
    const packedLength = packPaneState(wire, false).length;
    // sixteen partitions, each replaced as labels come, in an order of their own
    for (let round = 0; round < 30; round++) {
      for (let k = 0; k < 16; k++) states.setBytes((k * 7 + round) % 16, stateBytes(packedLength - 2, round * 16 + k), false);
    }
    expect(states.size).toBe(16);
    expect(states.heldBytes(() => 0)).toBe(16 * packedLength);
    expect(states.sharedCapacity).toBeLessThanOrEqual(Math.ceil(16 * packedLength * (1 + SHARED_HEADROOM)));
    // slots keep their place (states are merged in that order): the first partition written first
    expect(states.partitionAt(0)).toBe(0);
  });

  it('held deflated while quiet, read back byte for byte, and changed as if never deflated', () => {
    const states = new PaneStates('v1', 0, 'out');
    const partitionOutcome = (partition: number, labels: number): Uint8Array => encode(outcomeWire(labels + partition));
    for (let partition = 0; partition < 16; partition++) states.setBytes(partition, partitionOutcome(partition, 4), false);
    const live = states.heldBytes(() => 0);
    const viewBefore = states.stateAt(states.slotOf(3)) as Uint8Array;
    const copyBefore = viewBefore.slice();
    states.pack();
    // sixteen outcome states repeat each other's names and layout: deflated as one run, a third or less
    expect(states.sharedCapacity).toBe(0);
    expect(states.packedLength).toBeGreaterThan(0);
    expect(states.heldBytes(() => 0)).toBe(states.packedLength);
    expect(states.packedLength).toBeLessThan(live / 3);
    expect(viewBefore).toEqual(copyBefore);
    // read: inflated, every state as it was set
    for (let partition = 0; partition < 16; partition++) expect(states.stateAt(states.slotOf(partition))).toEqual(packStateBytes(partitionOutcome(partition, 4)));
    expect(states.heldBytes(() => 0)).toBe(live);
    // packed again with nothing changed: the deflated bytes kept serve, the array is let go again
    states.pack();
    expect(states.sharedCapacity).toBe(0);
    // a late label: the pane is read back, the state replaced; packed again, it holds the new state
    states.setBytes(9, partitionOutcome(9, 5), false);
    states.pack();
    expect(states.packedLength).toBeGreaterThan(0);
    states.markFinal(states.slotOf(9));
    const taken = states.takeFinal();
    expect(taken.map((member) => member.partition)).toEqual([9]);
    expect(taken[0].state).toEqual(packStateBytes(partitionOutcome(9, 5)));
    for (let partition = 0; partition < 16; partition++) if (partition !== 9) expect(states.stateAt(states.slotOf(partition))).toEqual(packStateBytes(partitionOutcome(partition, 4)));
  });

  it('give a state too long to share, and an input pane\'s states, arrays of their own, and free the shared array once every state is taken out', () => {
    const inputs = new PaneStates('v1', 0, 'in');
    inputs.setBytes(1, stateBytes(100, 1), false);
    expect(inputs.sharedAt(0)).toBe(false);
    expect(inputs.stateAt(0)).toEqual(packStateBytes(stateBytes(100, 1)));
    expect(inputs.sharedCapacity).toBe(0);
    const states = new PaneStates('v1', 0, 'out');
    states.setBytes(1, stateBytes(SHARED_STATE_MAX_BYTES, 1), true);
    states.setBytes(2, stateBytes(100, 2), true);
    expect(states.sharedAt(states.slotOf(1))).toBe(false);
    expect(states.sharedAt(states.slotOf(2))).toBe(true);
    const taken = states.takeFinal();
    expect(taken.map((member) => [member.partition, member.shared])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(taken[1].state).toEqual(packStateBytes(stateBytes(100, 2)));
    expect(states.size).toBe(0);
    expect(states.sharedCapacity).toBe(0);
  });
});
