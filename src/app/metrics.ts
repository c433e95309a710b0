/**
 * Each process's registry: process metrics (CPU, memory, event loop) plus the series it fills.
 * A worker exports the pipeline's consumption and ownership, a gateway its changelog, feed,
 * alerts and model gauges, and `npm start` (both in one process) both sets on one registry.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createWorkerMetrics } from '../partition/worker-metrics.ts';
import { createGatewayMetrics } from '../gateway/prometheus.ts';
import type { GatewayMetrics, ModelGaugeLimits, PipelineMetrics, WorkerMetrics } from '../contract/pipeline-metrics.ts';

export function createPipelineMetrics(registry: Registry, limits: ModelGaugeLimits = {}): PipelineMetrics {
  return { ...createWorkerMetrics(registry), ...createGatewayMetrics(registry, limits) };
}

function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function workerMetrics(): { registry: Registry; metrics: WorkerMetrics } {
  const registry = processRegistry();
  return { registry, metrics: createWorkerMetrics(registry) };
}

export function gatewayMetrics(limits?: ModelGaugeLimits): { registry: Registry; metrics: GatewayMetrics } {
  const registry = processRegistry();
  return { registry, metrics: createGatewayMetrics(registry, limits) };
}

export function allInOneMetrics(limits?: ModelGaugeLimits): { registry: Registry; metrics: PipelineMetrics } {
  const registry = processRegistry();
  return { registry, metrics: createPipelineMetrics(registry, limits) };
}
