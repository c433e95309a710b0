import { MetricsSourceEmitter } from '../contract/metrics-source.ts';
import type { AlertHistoryQuery, MetricsOptions } from '../contract/metrics-source.ts';
import type { ActiveAlert } from '../contract/alerting.ts';
import type { AlertEvent, AlertRuleStatus, ModelMetrics, ModelSummary } from '../contract/metrics.ts';
import type { AlertLog } from './alert-log.ts';
import type { MetricsView } from './metrics-view.ts';
import type { ReferenceRegistry } from './reference-registry.ts';
import type { WindowStore } from './window-store.ts';

export interface GatewaySourceUnits {
  windows: WindowStore;
  references: ReferenceRegistry;
  view: MetricsView;
  alerts: AlertLog;
}

/**
 * The MetricsSource the REST routes and the WebSocket feed read, over the gateway's units. Once a
 * tick it visits the models that changed (new panes, a new reference, drift due again): captures
 * an automatic reference if due, evaluates the alert rules, and announces the model's metrics.
 */
export class GatewaySource extends MetricsSourceEmitter {
  private readonly changed = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly units: GatewaySourceUnits,
    private readonly tickMs = 1000,
  ) {
    super();
    const markChanged = (model: string): void => {
      this.changed.add(model);
    };
    units.windows.onModelChanged(markChanged);
    units.references.onReferenceChanged(markChanged);
    units.view.onDriftReused(markChanged);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  windows(): string[] {
    return this.units.windows.windowNames();
  }

  listModels(): ModelSummary[] {
    return this.units.windows.listModels();
  }

  getMetrics(model: string, window: string, version?: string, options?: MetricsOptions): ModelMetrics | undefined {
    return this.units.view.getMetrics(model, window, version, options);
  }

  recentAlerts(model?: string): AlertEvent[] {
    return this.units.alerts.recentAlerts(model);
  }

  activeAlerts(model?: string): ActiveAlert[] {
    return this.units.alerts.activeAlerts(model);
  }

  alertHistory(query: AlertHistoryQuery): AlertEvent[] {
    return this.units.alerts.history(query);
  }

  ruleStatuses(model?: string): AlertRuleStatus[] {
    return this.units.alerts.ruleStatuses(model);
  }

  ready(): boolean {
    return this.units.windows.isReady();
  }

  notReadyReason(): string {
    return this.units.windows.notReadyReason();
  }

  /** Per changed model: capture an automatic reference, evaluate the rules, announce metrics and transitions. */
  tick(): void {
    if (this.changed.size === 0) return;
    const models = [...this.changed];
    this.changed.clear();
    // metrics computed below may mark their model changed again (drift still being reused)
    const { windows: store, references, view, alerts } = this.units;
    for (const model of models) {
      const windows = store.windowsOf(model);
      if (windows === undefined) continue;
      references.captureIfDue(windows);
      const transitions = alerts.evaluate(model, (window, version) => view.getMetrics(model, window, version), [...windows.versions]);
      for (const alert of transitions) this.emitAlert(alert);
      this.emitMetrics(model);
    }
  }
}
