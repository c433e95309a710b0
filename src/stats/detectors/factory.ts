/**
 * Builds a detector by name, and restores any detector from its `toJSON()` state, so callers
 * (config, checkpoints) need not know the classes.
 */

import { Adwin } from './adwin.ts';
import { Ddm } from './ddm.ts';
import { Eddm } from './eddm.ts';
import { HddmA } from './hddm-a.ts';
import { HddmW } from './hddm-w.ts';
import { PageHinkley } from './page-hinkley.ts';
import { DETECTOR_KINDS, type DetectorKind, type DetectorOptionsByKind } from './types.ts';

export interface DetectorByKind {
  adwin: Adwin;
  page_hinkley: PageHinkley;
  ddm: Ddm;
  eddm: Eddm;
  hddm_a: HddmA;
  hddm_w: HddmW;
}

export function createDetector<K extends DetectorKind>(kind: K, options?: DetectorOptionsByKind[K]): DetectorByKind[K] {
  const detector = buildDetector(kind, options ?? {});
  return detector as DetectorByKind[K];
}

function buildDetector(kind: DetectorKind, options: object): DetectorByKind[DetectorKind] {
  switch (kind) {
    case 'adwin':
      return new Adwin(options);
    case 'page_hinkley':
      return new PageHinkley(options);
    case 'ddm':
      return new Ddm(options);
    case 'eddm':
      return new Eddm(options);
    case 'hddm_a':
      return new HddmA(options);
    case 'hddm_w':
      return new HddmW(options);
    default:
      throw new RangeError(`createDetector: unknown detector kind ${JSON.stringify(kind)}; expected one of ${DETECTOR_KINDS.join(', ')}`);
  }
}

/** Restores a detector from any detector's `toJSON()` output, dispatching on `state.kind`. */
export function detectorFromJSON(state: unknown): DetectorByKind[DetectorKind] {
  const kind = typeof state === 'object' && state !== null ? (state as { kind?: unknown }).kind : undefined;
  switch (kind) {
    case 'adwin':
      return Adwin.fromJSON(state);
    case 'page_hinkley':
      return PageHinkley.fromJSON(state);
    case 'ddm':
      return Ddm.fromJSON(state);
    case 'eddm':
      return Eddm.fromJSON(state);
    case 'hddm_a':
      return HddmA.fromJSON(state);
    case 'hddm_w':
      return HddmW.fromJSON(state);
    default:
      throw new RangeError(`detectorFromJSON: state.kind must be one of ${DETECTOR_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
}
