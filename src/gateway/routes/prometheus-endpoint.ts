/** `GET /metrics`: the prom-client registry in the text exposition format. */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { Gauge, Registry } from 'prom-client';
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
 * text): metric by metric, a gauge's series a slice at a time (renderGaugeInSlices), with turns of
 * the event loop between slices (`sliceMs`, STATISTICS_SLICE_MS).
 * A gateway's model gauges at 100 models x 30 features x 3 windows are ~100,000 series (9 MB),
 * which prom-client rendered in one block of 0.3-0.45 s that every request and feed frame waited
 * behind. The parts are not joined: at 300 models the join of 9 MB took 55 ms in one block, and
 * the response writes them one by one. OpenMetrics is rendered whole.
 */
export async function renderInSlices(registry: Registry<RegistryContentType>, turns?: LoopTurns, sliceMs = STATISTICS_SLICE_MS): Promise<string[]> {
  if (registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE) return [await registry.metrics()];
  const slicer = new TimeSlicer(sliceMs, { turns });
  const metrics = registry.getMetricsAsArray();
  const parts: string[] = [];
  for (let m = 0; m < metrics.length; m++) {
    const metric = metrics[m];
    if (metric instanceof Gauge) await renderGaugeInSlices(registry, metric as Gauge, parts, slicer);
    else parts.push(await registry.getSingleMetricAsString(metric.name));
    // registry.metrics(): the metrics' texts joined by a blank line, and a newline at the end
    parts.push(m + 1 < metrics.length ? '\n\n' : '\n');
    const pause = slicer.pause();
    if (pause !== undefined) await pause;
  }
  return parts.length === 0 ? ['\n'] : parts;
}

/** Series of a gauge written between two looks at the slice's clock. */
const GAUGE_LINES_PER_CHECK = 512;

/**
 * A gauge's text as prom-client's `getSingleMetricAsString` writes it (help, type, one line per
 * series, its labels then the registry's default labels), into `parts` a slice at a time: a model
 * gauge of a gateway at 300 models (~27,000 series, ~1 MB of text) took 27-79 ms in one block.
 */
async function renderGaugeInSlices(registry: Registry<RegistryContentType>, gauge: Gauge, parts: string[], slicer: TimeSlicer): Promise<void> {
  const { name, help, values } = await gauge.get();
  const escapedName = escapeText(name);
  // prom-client keeps them in a field it does not expose; a change there shows in the text test
  const defaults = (registry as unknown as { _defaultLabels?: Record<string, string | number> })._defaultLabels ?? {};
  const withDefaults = Object.keys(defaults).length > 0;
  let text = `# HELP ${escapedName} ${escapeText(help)}\n# TYPE ${escapedName} gauge`;
  for (let k = 0; k < values.length; k++) {
    const { labels, value } = values[k];
    // its own labels, then the registry's default labels it does not have (prom-client's order),
    // without an object or an array per series: ~100,000 series a scrape at 300 models
    let line = '';
    const own = labels ?? {};
    for (const label in own) line += `${line === '' ? '' : ','}${label}="${labelValueText(own[label])}"`;
    if (withDefaults) {
      for (const label in defaults) if (!Object.hasOwn(own, label)) line += `${line === '' ? '' : ','}${label}="${labelValueText(defaults[label])}"`;
    }
    text += `\n${escapedName}${line === '' ? '' : `{${line}}`} ${valueText(value)}`;
    if (k % GAUGE_LINES_PER_CHECK === GAUGE_LINES_PER_CHECK - 1) {
      const pause = slicer.pause();
      if (pause !== undefined) {
        parts.push(text);
        text = '';
        await pause;
      }
    }
  }
  parts.push(text);
}

/** prom-client's escaping of a help text, a name or (with its quotes escaped too) a label value. */
function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label's value as prom-client writes it: a string escaped (only when it has something to escape), else as String gives it. */
function labelValueText(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  return LABEL_VALUE_TO_ESCAPE.test(value) ? escapeText(value).replace(/"/g, '\\"') : value;
}
const LABEL_VALUE_TO_ESCAPE = /[\\\n"]/;

/** A sample's value as prom-client writes it. */
function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
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
