import { describe, expect, it } from 'vitest';
import { ProfileIdGenerator, newProfileId } from '../../src/reference/store.ts';

describe('profile ids', () => {
  it('are unique within one millisecond and sort as text in creation order, even when the clock steps back', () => {
    const clock = [1_717_171_717_171, 1_717_171_717_171, 1_717_171_717_171, 1_717_171_717_100, 1_717_171_717_172, 9_999_999_999_999];
    let tick = 0;
    let draw = 0;
    // a fixed random draw for every id: uniqueness comes from the time and the sequence alone
    const ids = new ProfileIdGenerator(() => clock[tick++], () => (draw++ % 3) / 3);
    const made = clock.map(() => ids.next('fraud', 'v7', 'file'));
    expect(made.map((m) => m.id)).toEqual([
      'fraud.v7.file.001717171717171-00000co0co',
      'fraud.v7.file.001717171717171-00010co0co',
      'fraud.v7.file.001717171717171-00020co0co',
      'fraud.v7.file.001717171717171-00030co0co', // the clock went back: same time, next sequence
      'fraud.v7.file.001717171717172-00000co0co',
      'fraud.v7.file.009999999999999-00000co0co',
    ]);
    expect(made.map((m) => m.at)).toEqual([1_717_171_717_171, 1_717_171_717_171, 1_717_171_717_171, 1_717_171_717_171, 1_717_171_717_172, 9_999_999_999_999]);
    const sorted = made.map((m) => m.id).sort();
    expect(sorted).toEqual(made.map((m) => m.id));
  });

  it('two generators (two gateway replicas) in the same millisecond differ by their random part', () => {
    const a = new ProfileIdGenerator(() => 5, () => 0.1).next('m', null, 'window').id;
    const b = new ProfileIdGenerator(() => 5, () => 0.9).next('m', null, 'window').id;
    expect(a).not.toBe(b);
    expect(a).toMatch(/^m\.all\.window\.000000000000005-0000[0-9a-z]{6}$/);
  });

  it('deterministic ids (automatic capture) stay as they were, so every replica names it alike', () => {
    expect(newProfileId('m', null, 'auto', 100_000)).toBe('m.all.auto.100000');
  });
});
