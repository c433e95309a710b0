/**
 * Option and state validation shared by the detectors. Every failure is a RangeError (TypeError for
 * a value of the wrong type) naming the detector and the offending field, so a bad config or a
 * corrupted checkpoint says exactly what is wrong.
 */

import { DETECTOR_STATE_VERSION } from './types.ts';

export function assertKnownOptions(detector: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new RangeError(`${detector}: unknown option '${key}'; expected one of ${allowed.join(', ')}`);
    }
  }
}

interface NumberBounds {
  /** Inclusive lower bound unless `minExclusive`. */
  min?: number;
  minExclusive?: boolean;
  /** Inclusive upper bound unless `maxExclusive`. */
  max?: number;
  maxExclusive?: boolean;
  integer?: boolean;
}

function describeBounds(bounds: NumberBounds): string {
  const parts: string[] = [];
  if (bounds.integer) parts.push('an integer');
  else parts.push('a finite number');
  if (bounds.min !== undefined) parts.push(`${bounds.minExclusive ? '>' : '>='} ${bounds.min}`);
  if (bounds.max !== undefined) parts.push(`${bounds.maxExclusive ? '<' : '<='} ${bounds.max}`);
  return parts.join(' ');
}

export function numberOption(detector: string, name: string, value: unknown, fallback: number, bounds: NumberBounds): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`${detector}: option '${name}' must be ${describeBounds(bounds)}, got ${String(value)}`);
  }
  const tooLow = bounds.min !== undefined && (bounds.minExclusive ? value <= bounds.min : value < bounds.min);
  const tooHigh = bounds.max !== undefined && (bounds.maxExclusive ? value >= bounds.max : value > bounds.max);
  if (tooLow || tooHigh || (bounds.integer && !Number.isInteger(value))) {
    throw new RangeError(`${detector}: option '${name}' must be ${describeBounds(bounds)}, got ${value}`);
  }
  return value;
}

export function booleanOption(detector: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new RangeError(`${detector}: option '${name}' must be a boolean, got ${String(value)}`);
  }
  return value;
}

/** Reads fields of a serialized state, failing with the field's name when it is missing or mistyped. */
export class StateReader {
  private readonly record: Record<string, unknown>;

  constructor(
    private readonly where: string,
    state: unknown,
    kind: string,
  ) {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw new TypeError(`${where}: state must be an object, got ${state === null ? 'null' : typeof state}`);
    }
    this.record = state as Record<string, unknown>;
    if (this.record.kind !== kind) {
      throw new RangeError(`${where}: state.kind must be '${kind}', got ${JSON.stringify(this.record.kind)}`);
    }
    if (this.record.version !== DETECTOR_STATE_VERSION) {
      throw new RangeError(
        `${where}: unsupported state.version ${JSON.stringify(this.record.version)}; this build reads version ${DETECTOR_STATE_VERSION}`,
      );
    }
  }

  options(): Record<string, unknown> {
    const options = this.record.options;
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new TypeError(`${this.where}: state.options must be an object`);
    }
    return options as Record<string, unknown>;
  }

  number(field: string, from: Record<string, unknown> = this.record, path = `state.${field}`): number {
    const value = from[field];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new TypeError(`${this.where}: ${path} must be a finite number, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  nonNegativeInteger(field: string, from: Record<string, unknown> = this.record, path = `state.${field}`): number {
    const value = this.number(field, from, path);
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`${this.where}: ${path} must be a non-negative integer, got ${value}`);
    }
    return value;
  }

  nullableNumber(field: string): number | null {
    return this.record[field] === null ? null : this.number(field);
  }

  /** A number, or undefined when the field is absent (a state written before the field existed). */
  optionalNumber(field: string): number | undefined {
    return this.record[field] === undefined ? undefined : this.number(field);
  }

  boolean(field: string, from: Record<string, unknown> = this.record, path = `state.${field}`): boolean {
    const value = from[field];
    if (typeof value !== 'boolean') {
      throw new TypeError(`${this.where}: ${path} must be a boolean, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  object(field: string): Record<string, unknown> {
    const value = this.record[field];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TypeError(`${this.where}: state.${field} must be an object`);
    }
    return value as Record<string, unknown>;
  }

  array(field: string, from: Record<string, unknown> = this.record, path = `state.${field}`): unknown[] {
    const value = from[field];
    if (!Array.isArray(value)) throw new TypeError(`${this.where}: ${path} must be an array`);
    return value;
  }

  fail(message: string): never {
    throw new RangeError(`${this.where}: ${message}`);
  }
}

/** One of a fixed set of strings, with an error naming the option and the choices. */
export function choiceOption<T extends string>(name: string, option: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T)) {
    throw new RangeError(`${name}: option '${option}' must be one of ${choices.join(', ')}, got ${String(value)}`);
  }
  return value as T;
}

/** River's HDDM_A / HDDM_W confidences (river/drift/binary/hddm_a.py, hddm_w.py `__init__`). */
export const RIVER_HDDM_CONFIDENCES = { drift: 0.001, warning: 0.005 } as const;

/**
 * HDDM_A's and HDDM_W's two confidences, both in (0, 1).
 *
 * driftwatch's own bounds: the warning one must be the looser, and an explicit drift confidence
 * without a warning one keeps River's 5:1 ratio (capped below 1), so lowering only the drift
 * confidence never makes the warning the stricter test.
 *
 * River's bound (`riverBound`): River's behaviour, as River's `__init__` has it: each confidence
 * missing takes River's default on its own (a drift confidence alone leaves the warning at 0.005),
 * and any pair is accepted — River checks no order (a warning confidence below the drift one only
 * means the warning test is the stricter; the drift test still decides drifts).
 */
export function parseConfidences(
  name: string,
  options: { driftConfidence?: number; warningConfidence?: number },
  defaults: { drift: number; warning: number },
  riverBound = false,
): { driftConfidence: number; warningConfidence: number } {
  const bounds = { min: 0, minExclusive: true, max: 1, maxExclusive: true };
  if (riverBound) {
    return {
      driftConfidence: numberOption(name, 'driftConfidence', options.driftConfidence, RIVER_HDDM_CONFIDENCES.drift, bounds),
      warningConfidence: numberOption(name, 'warningConfidence', options.warningConfidence, RIVER_HDDM_CONFIDENCES.warning, bounds),
    };
  }
  const driftConfidence = numberOption(name, 'driftConfidence', options.driftConfidence, defaults.drift, bounds);
  const defaultWarning = options.driftConfidence === undefined ? defaults.warning : Math.min(5 * driftConfidence, 0.5);
  const warningConfidence = numberOption(name, 'warningConfidence', options.warningConfidence, defaultWarning, bounds);
  if (warningConfidence < driftConfidence) {
    throw new RangeError(
      `${name}: option 'warningConfidence' (${warningConfidence}) must be >= 'driftConfidence' (${driftConfidence}); a warning must come no later than a drift (or use River's bound, which accepts any pair)`,
    );
  }
  return { driftConfidence, warningConfidence };
}
