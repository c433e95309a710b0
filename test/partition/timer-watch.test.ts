import { describe, expect, it } from 'vitest';
import { TimerWatch } from '../../src/partition/timer-watch.ts';

function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // handling a message
  }
}

/** A backlog as a consumer's iterator hands it on: every message in microtasks, the loop never reached. */
async function* backlog(messages: number): AsyncGenerator<number> {
  for (let i = 0; i < messages; i++) yield i;
}

/**
 * Handles `messages` of `msPerMessage` each as the partition runner does, giving way when the watch
 * says timers waited; counts how often a 10 ms interval timer (a lease renewal, a flush) ran meanwhile.
 */
async function consume(watch: TimerWatch, messages: number, msPerMessage: number, loopTurns: boolean): Promise<{ timerRuns: number; gaveWay: number }> {
  let timerRuns = 0;
  let gaveWay = 0;
  const timer = setInterval(() => timerRuns++, 10);
  try {
    for await (const _ of backlog(messages)) {
      busyFor(msPerMessage);
      if (watch.timersWaited()) {
        watch.gaveWay();
        gaveWay++;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // a live consumer whose queue empties: the socket is read again, timers run on the way
      if (loopTurns) await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    clearInterval(timer);
    watch.stop();
  }
  return { timerRuns, gaveWay };
}

describe('TimerWatch: when a partition consumer gives the event loop back', () => {
  it('says timers waited only once afterMs passed without them, counting again from each run or give-way', () => {
    let now = 1000;
    const watch = new TimerWatch(100, 20, () => now);
    try {
      expect(watch.timersWaited()).toBe(false); // the first message: watching from now
      now = 1099;
      expect(watch.timersWaited()).toBe(false);
      now = 1100;
      expect(watch.timersWaited()).toBe(true);
      watch.timersRan();
      expect(watch.timersWaited()).toBe(false);
      now = 1199;
      expect(watch.timersWaited()).toBe(false);
      now = 1250;
      expect(watch.timersWaited()).toBe(true);
      watch.gaveWay();
      expect(watch.timersWaited()).toBe(false);
      now = 1350;
      expect(watch.timersWaited()).toBe(true);
    } finally {
      watch.stop();
    }
  });

  it('its timer notes that timers run while messages are handled, and a blocked thread makes it say they waited', async () => {
    const watch = new TimerWatch(200, 10);
    try {
      for (let i = 0; i < 25; i++) {
        expect(watch.timersWaited()).toBe(false);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // a message handled, then 220 ms of them with no turn of the loop
      expect(watch.timersWaited()).toBe(false);
      busyFor(220);
      expect(watch.timersWaited()).toBe(true);
    } finally {
      watch.stop();
    }
  });

  it('an idle partition holds no timer: the watch arms one with a message and lets it go once it ran', async () => {
    const watch = new TimerWatch(100, 10);
    expect(watch.watching).toBe(false);
    expect(watch.timersWaited()).toBe(false);
    expect(watch.watching).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(watch.watching).toBe(false);
    // stopped while armed: nothing left behind
    expect(watch.timersWaited()).toBe(false);
    watch.stop();
    expect(watch.watching).toBe(false);
  });

  it('a backlog handled in microtasks gives way, so a timer runs while it is handled', async () => {
    // 400 messages of 2 ms: 0.8 s with no turn of the loop unless the consumer gives way
    const { timerRuns, gaveWay } = await consume(new TimerWatch(100, 10), 400, 2, false);
    expect(gaveWay).toBeGreaterThanOrEqual(3);
    expect(timerRuns).toBeGreaterThanOrEqual(3);
  });

  it('a consumer whose loop turns by itself never gives way (each give-way lets the client read ahead)', async () => {
    // (a wait of 300 ms: a shared machine may stall the process for a while)
    const { timerRuns, gaveWay } = await consume(new TimerWatch(300, 10), 200, 1, true);
    expect(timerRuns).toBeGreaterThanOrEqual(3);
    expect(gaveWay).toBe(0);
  });
});
