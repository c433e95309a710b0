import { describe, expect, it } from 'vitest';
import { TimeSlicer } from '../../src/gateway/time-slice.ts';

describe('TimeSlicer', () => {
  it('asks for no pause while the slice lasts, then for one; the next slice starts when the pause ends', async () => {
    let now = 0;
    const slicer = new TimeSlicer(20, Infinity, () => now);
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
    const slicer = new TimeSlicer(20, 256, () => now);
    now = 100;
    expect(slicer.pause(257)).toBeUndefined();
    expect(slicer.pause(256)).toBeInstanceOf(Promise);
  });

  it('refuses a slice that is not a positive duration, or a negative backlog bound', () => {
    expect(() => new TimeSlicer(0)).toThrow('TimeSlicer: sliceMs must be > 0, got 0');
    expect(() => new TimeSlicer(10, -1)).toThrow('TimeSlicer: yieldWithinBacklog must be >= 0, got -1');
  });
});
