export { Adwin } from './adwin.ts';
export { PageHinkley } from './page-hinkley.ts';
export { Ddm } from './ddm.ts';
export { Eddm } from './eddm.ts';
export { HddmA } from './hddm-a.ts';
export { HddmW } from './hddm-w.ts';
export { createDetector, detectorFromJSON, type DetectorByKind } from './factory.ts';
export {
  DETECTOR_KINDS,
  DETECTOR_STATE_VERSION,
  type AdwinOptions,
  type AdwinState,
  type ChangeDetector,
  type DdmOptions,
  type DdmState,
  type DetectorKind,
  type DetectorOptionsByKind,
  type DetectorState,
  type DetectorStateBase,
  type EddmOptions,
  type EddmState,
  type HddmAOptions,
  type HddmAState,
  type HddmWOptions,
  type HddmWSampleState,
  type HddmWState,
  type PageHinkleyOptions,
  type PageHinkleyState,
} from './types.ts';
