/** `GET /metrics`: the prom-client registry in the text exposition format. */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { Registry } from 'prom-client';
import type { RegistryContentType } from 'prom-client';
import { errorResponses } from '../schemas.ts';
import { STATISTICS_SLICE_MS, TimeSlicer } from '../time-slice.ts';
import type { LoopTurns } from '../time-slice.ts';

export interface PrometheusRouteOptions {
  registry: Registry<RegistryContentType>;
  /** Called (and awaited) before each scrape, e.g. to refresh model-level gauges from the source. */
  beforeScrape?: () => void | Promise<void>;
  /** Event-loop turns shared with the process's other slicers (see renderInSlices); default: setImmediate. */
  turns?: LoopTurns;
}

/**
 * The registry's text as `registry.metrics()` renders it, in parts (their concatenation is the
 * text): one metric at a time with turns of the event loop between slices (STATISTICS_SLICE_MS).
 * A gateway's model gauges at 100 models x 30 features x 3 windows are ~100,000 series (9 MB),
 * which prom-client rendered in one block of 0.3-0.45 s that every request and feed frame waited
 * behind. The parts are not joined: at 300 models the join of 9 MB took 55 ms in one block, and
 * the response writes them one by one. OpenMetrics is rendered whole.
 */
export async function renderInSlices(registry: Registry<RegistryContentType>, turns?: LoopTurns): Promise<string[]> {
  if (registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE) return [await registry.metrics()];
  const slicer = new TimeSlicer(STATISTICS_SLICE_MS, { turns });
  const metrics = registry.getMetricsAsArray();
  const parts: string[] = [];
  for (let m = 0; m < metrics.length; m++) {
    // registry.metrics(): the metrics' texts joined by a blank line, and a newline at the end
    parts.push(`${await registry.getSingleMetricAsString(metrics[m].name)}${m + 1 < metrics.length ? '\n\n' : '\n'}`);
    const pause = slicer.pause();
    if (pause !== undefined) await pause;
  }
  return parts.length === 0 ? ['\n'] : parts;
}

export const prometheusRoute: FastifyPluginAsync<PrometheusRouteOptions> = async (app, { registry, beforeScrape, turns }) => {
  /**
   * The scrape under way: one arriving meanwhile is answered with its text. A scrape's refresh and
   * rendering both yield to the event loop, and a second refresh starting under the first's
   * rendering would clear gauges it had not rendered yet (two Prometheus servers of a pair scrape
   * at the same moment).
   */
  let scraping: Promise<string[]> | undefined;
  const scrape = async (): Promise<string[]> => {
    await beforeScrape?.();
    return renderInSlices(registry, turns);
  };
  app.get('/metrics', {
    schema: {
      // Prometheus metrics (text exposition format; the body is text, not JSON).
      querystring: { type: 'object', properties: { token: { type: 'string' } } },
      response: { 200: { type: 'string' }, ...errorResponses },
    },
    handler: async (_request, reply) => {
      scraping ??= scrape().finally(() => {
        scraping = undefined;
      });
      const parts = await scraping;
      // written part by part (chunked), not as one 9 MB string (see renderInSlices)
      return reply.header('content-type', registry.contentType).send(Readable.from(parts));
    },
  });
};
