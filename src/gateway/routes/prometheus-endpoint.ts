/** `GET /metrics`: the prom-client registry in the text exposition format. */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { Gauge, Registry } from 'prom-client';
import type { RegistryContentType } from 'prom-client';
import { errorResponses } from '../schemas.ts';
import { STATISTICS_SLICE_MS, TimeSlicer } from '../time-slice.ts';
import type { LoopTurns } from '../time-slice.ts';
import { ModelSeriesGauge, escapeText, labelValueText, valueText } from '../model-series.ts';

export interface PrometheusRouteOptions {
  registry: Registry<RegistryContentType>;
  /** Called (and awaited) before each scrape, e.g. to refresh model-level gauges from the source. */
  beforeScrape?: () => void | Promise<void>;
  /** Event-loop turns shared with the process's other slicers (see renderInSlices); default: setImmediate. */
  turns?: LoopTurns;
}

/**
 * The registry's text as `registry.metrics()` renders it, in parts (their concatenation is the
 * text): metric by metric, a gauge's series a slice at a time (renderGaugeInSlices; a model-level
 * gauge straight from the entries it shows, ModelSeriesGauge.textChunks), with turns of the event
 * loop between slices (`sliceMs`, STATISTICS_SLICE_MS).
 * A gateway's model gauges at 100 models x 30 features x 3 windows are ~100,000 series (9 MB),
 * which prom-client rendered in one block of 0.3-0.45 s that every request and feed frame waited
 * behind. The parts are buffers, not strings, and not joined: kept as strings until written, the
 * 9 MB outlived young-generation collections (copied, then promoted), and at 300 models the join
 * took 55 ms in one block; the response writes them one by one. OpenMetrics is rendered whole.
 */
export async function renderInSlices(registry: Registry<RegistryContentType>, turns?: LoopTurns, sliceMs = STATISTICS_SLICE_MS): Promise<Buffer[]> {
  if (registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE) return [Buffer.from(await registry.metrics())];
  const slicer = new TimeSlicer(sliceMs, { turns });
  const metrics = registry.getMetricsAsArray();
  // prom-client keeps them in a field it does not expose; a change there shows in the text test
  const defaults = (registry as unknown as { _defaultLabels?: Record<string, string | number> })._defaultLabels ?? {};
  const parts: Buffer[] = [];
  for (let m = 0; m < metrics.length; m++) {
    const metric = metrics[m];
    if (metric instanceof ModelSeriesGauge) await renderModelGauge(metric, defaults, parts, slicer);
    else if (metric instanceof Gauge) await renderGaugeInSlices(metric as Gauge, defaults, parts, slicer);
    else parts.push(Buffer.from(await registry.getSingleMetricAsString(metric.name)));
    // registry.metrics(): the metrics' texts joined by a blank line, and a newline at the end
    parts.push(m + 1 < metrics.length ? BLANK_LINE : NEWLINE);
    const pause = slicer.pause();
    if (pause !== undefined) await pause;
  }
  return parts.length === 0 ? [NEWLINE] : parts;
}
const BLANK_LINE = Buffer.from('\n\n');
const NEWLINE = Buffer.from('\n');

/** Series of a gauge written between two looks at the slice's clock. */
const GAUGE_LINES_PER_CHECK = 512;

function header(name: string, help: string): string {
  return `# HELP ${name} ${escapeText(help)}\n# TYPE ${name} gauge`;
}

/**
 * A gauge's text as prom-client's `getSingleMetricAsString` writes it (help, type, one line per
 * series, its labels then the registry's default labels), into `parts` a slice at a time: a model
 * gauge of a gateway at 300 models (~27,000 series, ~1 MB of text) took 27-79 ms in one block.
 */
async function renderGaugeInSlices(gauge: Gauge, defaults: Record<string, string | number>, parts: Buffer[], slicer: TimeSlicer): Promise<void> {
  const { name, help, values } = await gauge.get();
  const escapedName = escapeText(name);
  const withDefaults = Object.keys(defaults).length > 0;
  let text = header(escapedName, help);
  for (let k = 0; k < values.length; k++) {
    const { labels, value } = values[k];
    // its own labels, then the registry's default labels it does not have (prom-client's order),
    // without an object or an array per series
    let line = '';
    const own = labels ?? {};
    for (const label in own) line += `${line === '' ? '' : ','}${label}="${anyLabelValueText(own[label])}"`;
    if (withDefaults) {
      for (const label in defaults) if (!Object.hasOwn(own, label)) line += `${line === '' ? '' : ','}${label}="${anyLabelValueText(defaults[label])}"`;
    }
    text += `\n${escapedName}${line === '' ? '' : `{${line}}`} ${valueText(value)}`;
    if (k % GAUGE_LINES_PER_CHECK === GAUGE_LINES_PER_CHECK - 1) {
      const pause = slicer.pause();
      if (pause !== undefined) {
        parts.push(Buffer.from(text));
        text = '';
        await pause;
      }
    }
  }
  parts.push(Buffer.from(text));
}

/** A model-level gauge's text (the same as renderGaugeInSlices would write once it is filled), written from the entries it shows. */
async function renderModelGauge(gauge: ModelSeriesGauge, defaults: Record<string, string | number>, parts: Buffer[], slicer: TimeSlicer): Promise<void> {
  const { name, help, labelNames } = gauge.described;
  const escapedName = escapeText(name);
  // every series of a model gauge has all its label names: the default labels it lacks are the same for each
  const own = new Set<string>(labelNames);
  let labelsAfter = '';
  for (const label in defaults) if (!own.has(label)) labelsAfter += `,${label}="${anyLabelValueText(defaults[label])}"`;
  parts.push(Buffer.from(header(escapedName, help)));
  for (const chunk of gauge.textChunks(escapedName, labelsAfter)) {
    parts.push(Buffer.from(chunk));
    const pause = slicer.pause();
    if (pause !== undefined) await pause;
  }
}

function anyLabelValueText(value: unknown): string {
  return typeof value === 'string' ? labelValueText(value) : String(value);
}

/**
 * `parts` as a stream that hands them to the socket a slice at a time (STATISTICS_SLICE_MS), with
 * turns of the event loop between slices. A loopback socket takes megabytes without blocking, so
 * `Readable.from(parts)` wrote most of a 9 MB answer in one run of microtasks: requests arriving
 * meanwhile waited 100-230 ms before they were read (bench gateway at 300 models, REST over HTTP).
 */
export function writtenInSlices(parts: readonly Buffer[], turns?: LoopTurns, sliceMs = STATISTICS_SLICE_MS, now?: () => number): Readable {
  let next = 0;
  let writing = false;
  const slicer = new TimeSlicer(sliceMs, { turns, now });
  const stream = new Readable({
    read() {
      if (writing) return;
      writing = true;
      void (async () => {
        while (next < parts.length) {
          // false: the socket is behind; read() is called again once it has taken what it holds
          if (!stream.push(parts[next++])) {
            writing = false;
            return;
          }
          const pause = slicer.pause();
          if (pause !== undefined) await pause;
        }
        stream.push(null);
      })();
    },
  });
  return stream;
}

export const prometheusRoute: FastifyPluginAsync<PrometheusRouteOptions> = async (app, { registry, beforeScrape, turns }) => {
  /**
   * The scrape under way: one arriving meanwhile is answered with its text. A scrape's refresh and
   * rendering both yield to the event loop, and a second refresh starting under the first's
   * rendering would clear gauges it had not rendered yet (two Prometheus servers of a pair scrape
   * at the same moment).
   */
  let scraping: Promise<Buffer[]> | undefined;
  const scrape = async (): Promise<Buffer[]> => {
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
      // written part by part (chunked), not as one 9 MB string (see renderInSlices), in slices
      return reply.header('content-type', registry.contentType).send(writtenInSlices(parts, turns));
    },
  });
};
