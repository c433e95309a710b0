/**
 * Builds a detector by name, and restores any detector from its `toJSON()` state, so callers
 * (config, checkpoints) need not know the classes. Both look the kind up in a registry
 * (registry.ts by default; tests pass an extended copy to show a new definition needs nothing else).
 */

import { DETECTORS, type DetectorByKind, type DetectorKind, type DetectorOptionsByKind } from './registry.ts';
import type { ChangeDetector, DetectorDefinition } from './types.ts';

function definitionOf<D extends DetectorDefinition>(registry: readonly D[], kind: unknown): D | undefined {
  return registry.find((definition) => definition.kind === kind);
}

function kindList(registry: readonly DetectorDefinition[]): string {
  return registry.map((definition) => definition.kind).join(', ');
}

export function createDetector<K extends DetectorKind>(kind: K, options?: DetectorOptionsByKind[K]): DetectorByKind[K] {
  return createDetectorFrom(DETECTORS, kind, options) as DetectorByKind[K];
}

/** `createDetector` over any registry of definitions. */
export function createDetectorFrom(registry: readonly DetectorDefinition[], kind: string, options?: object): ChangeDetector {
  const definition = definitionOf(registry, kind);
  if (definition === undefined) {
    throw new RangeError(`createDetector: unknown detector kind ${JSON.stringify(kind)}; expected one of ${kindList(registry)}`);
  }
  return definition.create(options ?? {});
}

/** Restores a detector from any detector's `toJSON()` output, dispatching on `state.kind`. */
export function detectorFromJSON(state: unknown): DetectorByKind[DetectorKind] {
  return detectorFromJSONIn(DETECTORS, state) as DetectorByKind[DetectorKind];
}

/** `detectorFromJSON` over any registry of definitions. */
export function detectorFromJSONIn(registry: readonly DetectorDefinition[], state: unknown): ChangeDetector {
  const kind = typeof state === 'object' && state !== null ? (state as { kind?: unknown }).kind : undefined;
  const definition = definitionOf(registry, kind);
  if (definition === undefined) {
    throw new RangeError(`detectorFromJSON: state.kind must be one of ${kindList(registry)}, got ${JSON.stringify(kind)}`);
  }
  return definition.fromJSON(state);
}
