/**
 * The one list of drift tests. `DriftTestName`, the tests evaluateDrift computes for each feature
 * type (and the key order of DriftEntry.tests), the default thresholds, the test names config
 * accepts (`drift.features.<f>.test`) and alert rules may name, and the bench rows derive from it.
 *
 * Adding a test: one new file in this folder exporting a `DriftTestDefinition` (see psi.ts), plus
 * one line in `DRIFT_TESTS`. Its position sets its place in DriftEntry.tests.
 */
import { CHI2 } from './chi2.ts';
import { CHI2_GOF } from './chi2-gof.ts';
import { HELLINGER } from './hellinger.ts';
import { JENSEN_SHANNON } from './jensen-shannon.ts';
import { KS } from './ks.ts';
import { PSI } from './psi.ts';
import type { DriftTestDefinition } from './types.ts';
import { WASSERSTEIN_NORMED } from './wasserstein-normed.ts';
import { Z } from './z.ts';

export const DRIFT_TESTS = [PSI, KS, WASSERSTEIN_NORMED, CHI2, CHI2_GOF, Z, JENSEN_SHANNON, HELLINGER] as const;

export type DriftTestName = (typeof DRIFT_TESTS)[number]['name'];

/** Every registered test name, in registry order. */
export const DRIFT_TEST_NAMES: readonly DriftTestName[] = DRIFT_TESTS.map((test) => test.name);

export function isDriftTestName(value: unknown): value is DriftTestName {
  return typeof value === 'string' && (DRIFT_TEST_NAMES as readonly string[]).includes(value);
}

export function driftTestDefinition(name: DriftTestName): DriftTestDefinition<DriftTestName> {
  return DRIFT_TESTS.find((test) => test.name === name) as DriftTestDefinition<DriftTestName>;
}

/** Tests that apply to a feature type, in registry order. */
export function driftTestsFor(type: 'numeric' | 'categorical'): readonly DriftTestDefinition<DriftTestName>[] {
  return DRIFT_TESTS.filter((test: DriftTestDefinition<DriftTestName>) => test[type] !== undefined);
}
