/**
 * A per-model notification between the gateway's units: the window store says a model's panes
 * changed, the reference registry that its reference did, the metrics view that it served drift
 * that is due again. Listeners run synchronously, in the order they subscribed.
 */
export type ModelListener = (model: string) => void;

export class ModelSignal {
  private readonly listeners: ModelListener[] = [];

  subscribe(listener: ModelListener): void {
    this.listeners.push(listener);
  }

  notify(model: string): void {
    for (const listener of this.listeners) listener(model);
  }
}
