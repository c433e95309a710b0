import type { ReferenceProfile } from '../../../src/reference/profile.ts';
import { LogHistogram } from '../../../src/sketch/log-histogram.ts';
import { DEFAULT_PANE_LIMITS, PaneInput, inputToWire } from '../../../src/window/pane.ts';
import type { FeatureCenters } from '../../../src/window/pane.ts';
import { ModelWindows } from '../../../src/window/windows.ts';
import type { WindowAggregate } from '../../../src/window/windows.ts';

export const PARTITIONS = 16;
const PANES = 10;
const PANE_MS = 10_000;

/**
 * A window of feature `feature` as the gateway holds it: the values spread over 16 partitions'
 * panes (each on `centers` of its partition and opened after its previous one, as a worker keeps
 * them), `PANES` pane times of them, through their wire form into a model's windows (ModelWindows, as the gateway's window store
 * keeps them: the feature held on `reference`'s buckets when it has a sketch of it, as the gateway
 * asks its reference registry, else on the first pane's; panes of other centers moved onto those
 * as they arrive). bench/fidelity.ts builds its windows the same way, for values of any shape (a
 * bench does not import test helpers, nor a test a bench script).
 */
export function liveWindow(values: ArrayLike<number>, centers: FeatureCenters[], reference: ReferenceProfile | null = null, feature = 'x'): WindowAggregate {
  const windows = new ModelWindows('m', new Map([['5m', 30 * PANE_MS]]), DEFAULT_PANE_LIMITS, {
    bucketsHint: (name) => {
      const summary = reference?.features[name];
      return summary?.type === 'numeric' && summary.summary instanceof LogHistogram ? summary.summary : undefined;
    },
  });
  const paneSize = Math.ceil(values.length / PANES);
  let previous: PaneInput[] | null = null;
  for (let start = 0, k = 0; start < values.length; start += paneSize, k++) {
    const panes = centers.map((partition, p) => {
      const pane = new PaneInput(DEFAULT_PANE_LIMITS, partition);
      if (previous !== null) pane.keepValuesLike(previous[p]); // as a worker opens a partition's next pane
      return pane;
    });
    previous = panes;
    for (let i = start; i < Math.min(values.length, start + paneSize); i++) {
      const pane = panes[i % PARTITIONS];
      pane.count++;
      pane.addFeature(feature, values[i]);
    }
    panes.forEach((pane, partition) => {
      if (pane.count > 0) windows.applyMessage({ model: 'm', version: 'v1', partition, paneStart: k * PANE_MS, paneMs: PANE_MS, part: 'in', seq: 0, state: inputToWire(pane), final: true });
    });
  }
  const aggregate = windows.get('5m');
  if (aggregate === undefined) throw new Error('no window for an empty run of values');
  return aggregate;
}
