import { describe, expect, it } from 'vitest';
import { FIRST_TURNS_IN_A_ROW, LoopTurns, TimeSlicer } from '../../src/gateway/time-slice.ts';

describe('TimeSlicer', () => {
  it('asks for no pause while the slice lasts, then for one; the next slice starts when the pause ends', async () => {
    let now = 0;
    const slicer = new TimeSlicer(20, { now: () => now });
    now = 19;
    expect(slicer.pause()).toBeUndefined();
    now = 20;
    const pause = slicer.pause();
    expect(pause).toBeInstanceOf(Promise);
    now = 30;
    await pause;
    now = 49;
    expect(slicer.pause()).toBeUndefined();
    now = 50;
    expect(slicer.pause()).toBeInstanceOf(Promise);
  });

  it('lets I/O and timers in between a run of synchronous units longer than a slice', async () => {
    const slicer = new TimeSlicer(5);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    // 60 units of 1 ms, as a pull batch of pane messages handed on without a turn of the loop
    for (let unit = 0; unit < 60; unit++) {
      busy(1);
      const pause = slicer.pause();
      if (pause !== undefined) await pause;
    }
    clearInterval(timer);
    // without the pauses the interval could not fire until the whole run was over
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it('does not yield while more than yieldWithinBacklog units wait: it runs on to the head first', () => {
    let now = 0;
    const slicer = new TimeSlicer(20, { yieldWithinBacklog: 256, now: () => now });
    now = 100;
    expect(slicer.pause(257)).toBeUndefined();
    expect(slicer.pause(256)).toBeInstanceOf(Promise);
  });

  it('refuses a slice that is not a positive duration, or a negative backlog bound', () => {
    expect(() => new TimeSlicer(0)).toThrow('TimeSlicer: sliceMs must be > 0, got 0');
    expect(() => new TimeSlicer(10, { yieldWithinBacklog: -1 })).toThrow('TimeSlicer: yieldWithinBacklog must be >= 0, got -1');
  });
});

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Runs `units` units of `unitMs` through `slicer`, logging each slice's start as [name, timer ticks then]. */
async function sliced(name: string, slicer: TimeSlicer, units: number, unitMs: number, log: Array<[string, number]>, ticks: () => number, backlog: (left: number) => number = () => 0): Promise<void> {
  log.push([name, ticks()]);
  for (let unit = 0; unit < units; unit++) {
    busy(unitMs);
    const left = units - unit - 1;
    const pause = slicer.pause(backlog(left));
    if (pause !== undefined) {
      await pause;
      if (left > 0) log.push([name, ticks()]);
    }
  }
}

/**
 * Runs the slicers `start` makes on shared turns, with a 1 ms timer counting ticks: the log of
 * their slices' starts (name, ticks then) and the names of the slices after each one's first.
 */
async function sharingTurns(start: (turns: LoopTurns, log: Array<[string, number]>, ticks: () => number) => Array<Promise<void>>) {
  const turns = new LoopTurns();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const log: Array<[string, number]> = [];
  await new Promise((resolve) => setTimeout(resolve, 5));
  try {
    await Promise.all(start(turns, log, () => ticks));
  } finally {
    clearInterval(timer);
  }
  return { turns, log, resumed: log.slice(2).map(([name]) => name) };
}

describe('LoopTurns', () => {
  it('runs one slice per turn of the event loop: a timer fires between any two slices of the slicers sharing them', async () => {
    const { turns, log, resumed } = await sharingTurns((turns, log, ticks) => [
      sliced('changelog', new TimeSlicer(4, { turns }), 20, 1, log, ticks),
      sliced('statistics', new TimeSlicer(4, { turns }), 20, 1, log, ticks),
    ]);
    // both ran in slices, taking turns (first come, first served)
    expect(resumed.filter((name) => name === 'changelog').length).toBeGreaterThanOrEqual(3);
    expect(resumed.filter((name) => name === 'statistics').length).toBeGreaterThanOrEqual(3);
    // alternating while both have work (under load one may need more slices than the other, and runs on alone)
    const bothRunning = Math.min(resumed.lastIndexOf('changelog'), resumed.lastIndexOf('statistics'));
    for (let k = 1; k <= bothRunning; k++) expect(resumed[k], `slice ${k}`).not.toBe(resumed[k - 1]);
    // and no slice started in the turn another ended in: timers ran in between
    for (let k = 3; k < log.length; k++) expect(log[k][1], `slice ${k} (${log[k][0]})`).toBeGreaterThan(log[k - 1][1]);
    expect(turns.waiters).toBe(0);
  });

  it('gives the next turn to a slicer that is behind before the others, still letting timers in', async () => {
    // the changelog is behind (more than 2 units wait) for its first 12 units of 20
    const { log, resumed } = await sharingTurns((turns, log, ticks) => [
      sliced('changelog', new TimeSlicer(3, { turns, yieldWithinBacklog: 2 }), 20, 1, log, ticks, (left) => (left > 7 ? 10 : 0)),
      sliced('statistics', new TimeSlicer(3, { turns }), 12, 1, log, ticks),
    ]);
    // while behind, the changelog takes FIRST_TURNS_IN_A_ROW turns before the statistics' next
    expect(resumed.slice(0, FIRST_TURNS_IN_A_ROW)).toEqual(Array(FIRST_TURNS_IN_A_ROW).fill('changelog'));
    expect(resumed[FIRST_TURNS_IN_A_ROW]).toBe('statistics');
    for (let k = 3; k < log.length; k++) expect(log[k][1]).toBeGreaterThan(log[k - 1][1]);
  });

  it('still gives the others a turn in FIRST_TURNS_IN_A_ROW + 1 while a slicer stays behind', async () => {
    // behind for its whole run: it asks to go first at every pause
    const { turns, resumed } = await sharingTurns((turns, log, ticks) => [
      sliced('changelog', new TimeSlicer(2, { turns, yieldWithinBacklog: 2 }), 60, 1, log, ticks, () => 10),
      sliced('statistics', new TimeSlicer(2, { turns }), 12, 1, log, ticks),
    ]);
    const lastStatistics = resumed.lastIndexOf('statistics');
    // the statistics ran to their end before the changelog did, one turn in every FIRST_TURNS_IN_A_ROW + 1
    expect(lastStatistics).toBeLessThan(resumed.lastIndexOf('changelog'));
    expect(resumed.filter((name) => name === 'statistics').length).toBeGreaterThanOrEqual(3);
    let changelogInRow = 0;
    for (const name of resumed.slice(0, lastStatistics + 1)) {
      changelogInRow = name === 'changelog' ? changelogInRow + 1 : 0;
      expect(changelogInRow).toBeLessThanOrEqual(FIRST_TURNS_IN_A_ROW);
    }
    // and the changelog had most of the turns meanwhile
    const before = resumed.slice(0, lastStatistics + 1);
    expect(before.filter((name) => name === 'changelog').length).toBeGreaterThanOrEqual(2 * before.filter((name) => name === 'statistics').length);
    expect(turns.waiters).toBe(0);
  });
});
