import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fnv1a32, fnv1a32Bytes, partitionOf } from '../../src/partition/hash.ts';

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(fnv1a32Bytes(new Uint8Array(0))).toBe(0x811c9dc5);
    expect(fnv1a32Bytes(Buffer.from('foobar'))).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of non-ASCII ids (2-, 3- and 4-byte sequences)', () => {
    const ids = ['é', 'naïve-42', 'Ω≈ç√', '日本語-id', '🙂', 'a🙂b', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', 'ß\u0000x', '\u07ff\u0800\uffff'];
    for (const id of ids) {
      expect(fnv1a32(id), id).toBe(fnv1a32Bytes(Buffer.from(id, 'utf8')));
    }
  });

  it('hashes lone surrogates as U+FFFD, as Buffer.from does', () => {
    for (const id of ['\ud800', 'x\udc00y', '\ud83d', 'a\ud83d\ud83d\ude42']) {
      expect(fnv1a32(id), JSON.stringify(id)).toBe(fnv1a32Bytes(Buffer.from(id, 'utf8')));
    }
  });

  it('agrees with hashing Buffer.from(id) for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (id) => {
        expect(fnv1a32(id)).toBe(fnv1a32Bytes(Buffer.from(id, 'utf8')));
      }),
      { numRuns: 2000 },
    );
  });

  it('returns an unsigned 32-bit integer', () => {
    for (const id of ['foobar', 'pred-1', 'zzzzzzzz']) {
      const h = fnv1a32(id);
      expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    }
  });
});

describe('partitionOf', () => {
  it('is fnv1a32 mod P', () => {
    expect(partitionOf('foobar', 16)).toBe(0xbf9cf968 % 16);
    expect(partitionOf('a', 7)).toBe(0xe40c292c % 7);
    expect(partitionOf('anything', 1)).toBe(0);
  });

  it('spreads sequential ids roughly evenly', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 80_000; i++) counts[partitionOf(`pred-${i}`, 8)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => partitionOf('a', 0)).toThrow(/positive integer, got 0/);
    expect(() => partitionOf('a', 2.5)).toThrow(RangeError);
  });
});

describe('docs/wire-format.md', () => {
  it('lists test vectors that match the implementation', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/wire-format.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `"(.*)"`\s*\| `?([0-9a-f]+|\(none\))`?\s*\| `0x([0-9a-f]{8})` \| (\d+)\s*\| (\d+)\s*\|$/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(7);
    for (const [, id, hex, hash, mod16, mod12] of rows) {
      expect(hex === '(none)' ? '' : hex, id).toBe(Buffer.from(id, 'utf8').toString('hex'));
      expect(fnv1a32(id), id).toBe(Number.parseInt(hash, 16));
      expect(partitionOf(id, 16), id).toBe(Number(mod16));
      expect(partitionOf(id, 12), id).toBe(Number(mod12));
    }
  });
});
