import { constants as perfConstants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/**
 * Collections of the calling thread's heap over a span, as V8 reports them (PerformanceObserver
 * 'gc' entries: count and time; a full collection's time is its final pause, while the incremental
 * marking steps it takes in allocating code are no entries and show in the thread's time alone).
 */
export interface Collections {
  scavenges: number;
  scavengeMs: number;
  full: number;
  fullMs: number;
}

/** Watches this thread's collections until the returned function is called (entries still buffered then included). */
export function watchCollections(): () => Collections {
  const seen: Collections = { scavenges: 0, scavengeMs: 0, full: 0, fullMs: 0 };
  const count = (entries: readonly PerformanceEntry[]): void => {
    for (const entry of entries) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } | null }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) {
        seen.scavenges++;
        seen.scavengeMs += entry.duration;
      } else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
        seen.full++;
        seen.fullMs += entry.duration;
      }
    }
  };
  const observer = new PerformanceObserver((list) => count(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    count(observer.takeRecords());
    observer.disconnect();
    return seen;
  };
}
