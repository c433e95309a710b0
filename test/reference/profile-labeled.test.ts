import { describe, expect, it } from 'vitest';
import { profileFromBytes, profileFromRows, profileToBytes } from '../../src/reference/profile.ts';

describe('a reference profile keeps how many labels its accuracy rests on', () => {
  it('counts the labelled rows of a file, and keeps the count through storage', () => {
    const rows = [
      { output: 0.9, label: 1, features: { x: 1 } },
      { output: 0.2, label: 1, features: { x: 2 } },
      { output: 0.3, label: 0, features: { x: 3 } },
      { output: 0.7, features: { x: 4 } },
    ];
    const profile = profileFromRows('p', 'm', null, rows);
    expect(profile.labeled).toBe(3);
    expect(profile.accuracy).toBeCloseTo(2 / 3, 12);
    expect(profileFromBytes(profileToBytes(profile)).labeled).toBe(3);
  });

  it('reads a stored profile without the count as unknown', () => {
    const { labeled: _labeled, ...old } = profileFromRows('p', 'm', null, [{ output: 0.9, label: 1, features: { x: 1 } }]);
    expect(profileFromBytes(profileToBytes(old)).labeled).toBeUndefined();
  });
});
