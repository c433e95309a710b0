/**
 * Registration that tolerates a second caller: a metric already registered under the same name is
 * reused, so the worker and the gateway of the all-in-one process can both register their series
 * on one registry (some names they share, none twice) without prom-client's "already registered".
 */
import { Counter, Gauge } from 'prom-client';
import type { Registry, RegistryContentType } from 'prom-client';

export type AnyRegistry = Registry<RegistryContentType>;

export function counterOn<L extends string>(registry: AnyRegistry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    if (existing instanceof Counter) return existing as Counter<L>;
    throw new Error(`metric ${name} is already registered in this registry with another type`);
  }
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

export function gaugeOn<L extends string>(registry: AnyRegistry, name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    if (existing instanceof Gauge) return existing as Gauge<L>;
    throw new Error(`metric ${name} is already registered in this registry with another type`);
  }
  return new Gauge<L>({ name, help, labelNames, registers: [registry] });
}
