export { Adwin, ADWIN, type AdwinOptions, type AdwinState } from './adwin.ts';
export { PageHinkley, PAGE_HINKLEY, type PageHinkleyOptions, type PageHinkleyState } from './page-hinkley.ts';
export { Ddm, DDM, type DdmOptions, type DdmState } from './ddm.ts';
export { Eddm, EDDM, type EddmOptions, type EddmState } from './eddm.ts';
export { HddmA, HDDM_A, type HddmAOptions, type HddmAState } from './hddm-a.ts';
export { HddmW, HDDM_W, type HddmWOptions, type HddmWSampleState, type HddmWState } from './hddm-w.ts';
export { createDetector, createDetectorFrom, detectorFromJSON, detectorFromJSONIn } from './factory.ts';
export {
  DETECTOR_KINDS,
  DETECTORS,
  isDetectorKind,
  type DetectorByKind,
  type DetectorKind,
  type DetectorOptionsByKind,
  type DetectorState,
} from './registry.ts';
export { DETECTOR_STATE_VERSION, type ChangeDetector, type DetectorDefinition, type DetectorStateBase } from './types.ts';
