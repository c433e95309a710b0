/**
 * The one list of detector kinds. Everything else that depends on which detectors exist derives
 * from it: `DetectorKind`, the factory (`createDetector`, `detectorFromJSON`), config validation
 * of `detectors.errorStream`, the `detector.<kind>` alert metrics and the bench rows.
 *
 * Adding a detector: one new file in this folder exporting the class, its options and state
 * types and a `DetectorDefinition` (see adwin.ts), plus one line in `DETECTORS` below.
 */

import { ADWIN } from './adwin.ts';
import { DDM } from './ddm.ts';
import { EDDM } from './eddm.ts';
import { HDDM_A } from './hddm-a.ts';
import { HDDM_W } from './hddm-w.ts';
import { PAGE_HINKLEY } from './page-hinkley.ts';

export const DETECTORS = [ADWIN, PAGE_HINKLEY, DDM, EDDM, HDDM_A, HDDM_W] as const;

type RegisteredDefinition = (typeof DETECTORS)[number];

export type DetectorKind = RegisteredDefinition['kind'];

/** The registered kinds, in registry order (config messages, bench rows). */
export const DETECTOR_KINDS: readonly DetectorKind[] = DETECTORS.map((definition) => definition.kind);

/** The detector class each kind builds. */
export type DetectorByKind = { [D in RegisteredDefinition as D['kind']]: ReturnType<D['create']> };

/** The options each kind accepts. */
export type DetectorOptionsByKind = { [D in RegisteredDefinition as D['kind']]: NonNullable<Parameters<D['create']>[0]> };

/** Any registered detector's serialized state (`toJSON()`), discriminated by `kind`. */
export type DetectorState = ReturnType<DetectorByKind[DetectorKind]['toJSON']>;

export function isDetectorKind(value: unknown): value is DetectorKind {
  return typeof value === 'string' && (DETECTOR_KINDS as readonly string[]).includes(value);
}
