/**
 * Progress of reading a training file, on stderr: a bar redrawn in place on a terminal (rows,
 * MB/s, ETA), plain lines every few seconds otherwise (logs, CI), and nothing at all for a file
 * read in under a second.
 */

export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
}

export interface Progress {
  /** Called often (every chunk): redraws at most a few times a second. */
  update(rows: number, bytes: number): void;
  /** Clears the bar (a terminal) after the last update. */
  done(rows: number, bytes: number): void;
}

const TTY_EVERY_MS = 200;
const PLAIN_EVERY_MS = 5_000;
/** A file read faster than this shows no progress at all. */
const QUIET_FOR_MS = 1_000;
const BAR_WIDTH = 24;

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function seconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}

/** One progress line: rows, share of the file, throughput and time left. */
export function describeProgress(rows: number, bytes: number, totalBytes: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? bytes / 1e6 / (elapsedMs / 1000) : 0;
  const share = totalBytes > 0 ? Math.min(1, bytes / totalBytes) : 0;
  const eta = rate > 0 ? (totalBytes - bytes) / 1e6 / rate : Infinity;
  return `${rows.toLocaleString('en-US')} rows, ${megabytes(bytes)}/${megabytes(totalBytes)} MB (${(share * 100).toFixed(0)}%), ${rate.toFixed(1)} MB/s, ETA ${seconds(eta)}`;
}

export function createProgress(sink: ProgressSink, totalBytes: number, now: () => number = Date.now): Progress {
  const started = now();
  let last = started;
  let drawn = false;
  return {
    update(rows, bytes) {
      const t = now();
      if (t - started < QUIET_FOR_MS || t - last < (sink.isTTY ? TTY_EVERY_MS : PLAIN_EVERY_MS)) return;
      last = t;
      const line = describeProgress(rows, bytes, totalBytes, t - started);
      if (sink.isTTY) {
        const filled = totalBytes > 0 ? Math.round((Math.min(bytes, totalBytes) / totalBytes) * BAR_WIDTH) : 0;
        sink.write(`\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${line}`);
      } else sink.write(`reading: ${line}\n`);
      drawn = true;
    },
    done(rows, bytes) {
      if (!drawn) return;
      const elapsed = now() - started;
      if (sink.isTTY) sink.write('\r\x1b[2K');
      sink.write(`read ${rows.toLocaleString('en-US')} rows (${megabytes(bytes)} MB) in ${seconds(elapsed / 1000)}\n`);
    },
  };
}
