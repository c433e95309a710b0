/** Pane messages and reference profiles for the gateway unit tests. */
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { PaneMessage } from '../../src/contract/pane-wire.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, inputToWire } from '../../src/window/pane.ts';
import type { ReferenceProfile } from '../../src/reference/profile.ts';

export const PANE_MS = 10_000;
export const LIMITS = DEFAULT_PANE_LIMITS;

/** One input pane of `model` holding one prediction per value (its latency and feature `x`). */
export function inputPane(model: string, paneStart: number, values: readonly number[], version = 'v1', partition = 0): PaneMessage {
  const pane = new PaneInput(LIMITS);
  for (const v of values) {
    pane.count++;
    pane.latency.add(v);
    pane.addFeature('x', v);
  }
  return { model, version, partition, paneStart, paneMs: PANE_MS, part: 'in', seq: 0, state: inputToWire(pane), final: false };
}

/** inputPane with `features` numeric features f0, f1, ... (feature k holds each value + k). */
export function widePane(model: string, paneStart: number, values: readonly number[], features: number): PaneMessage {
  const pane = new PaneInput(LIMITS);
  for (const v of values) {
    pane.count++;
    pane.latency.add(v);
    for (let k = 0; k < features; k++) pane.addFeature(`f${k}`, v + k);
  }
  return { model, version: 'v1', partition: 0, paneStart, paneMs: PANE_MS, part: 'in', seq: 0, state: inputToWire(pane), final: false };
}

/** `n` values spread evenly over [from, from + width). */
export function spread(n: number, from: number, width: number): number[] {
  return Array.from({ length: n }, (_, i) => from + (width * i) / n);
}

/** A profile with no distributions: enough to tell which reference is active. */
export function profile(id: string, model: string, createdAt: number, version: string | null = null): ReferenceProfile {
  return {
    id, model, version, source: 'file', createdAt, from: null, to: null, count: 1,
    output: null, features: {}, accuracy: null, errorRate: null, latencyP99: null, calibration: null, scoreCalibration: null,
  };
}

/** A logger that keeps its lines, to check what was logged. */
export function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}
