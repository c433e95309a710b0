/**
 * Loggers of every process and partition thread: JSON lines for machines (pino's own format), or
 * one readable line per entry for a person at a terminal. `auto` picks readable lines when stdout
 * is a terminal, decided once in the main thread and passed to partition threads, whose stdout is
 * never a terminal.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';
export const LOG_FORMAT_SETTINGS = ['auto', 'json', 'pretty'] as const;
export type LogFormatSetting = (typeof LOG_FORMAT_SETTINGS)[number];

export function resolveLogFormat(setting: LogFormatSetting, stdoutIsTerminal = process.stdout.isTTY === true): LogFormat {
  if (setting === 'auto') return stdoutIsTerminal ? 'pretty' : 'json';
  return setting;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every entry has or that the line shows in its own place. */
const SHOWN_APART = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component', 'err', 'v']);

function valueText(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value) ?? String(value);
}

/**
 * One pino JSON entry as a line a person reads: `12:04:05.123 WARN  [worker] message key=value`.
 * An error shows its message; its stack only at debug level and below (start-up errors are meant
 * to read as one sentence).
 */
export function formatLogEntry(entry: Record<string, unknown>, showStacks = false): string {
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5);
  const component = typeof entry.component === 'string' ? ` [${entry.component}]` : '';
  const message = typeof entry.msg === 'string' ? entry.msg : '';
  const fields: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (!SHOWN_APART.has(key) && value !== undefined) fields.push(`${key}=${valueText(value)}`);
  }
  let line = `${time} ${level}${component} ${message}${fields.length > 0 ? ' ' + fields.join(' ') : ''}`;
  const err = entry.err as { message?: string; stack?: string } | undefined;
  if (err !== undefined && typeof err === 'object') {
    // pino's serializer appends the causes' messages: only what the line does not already say
    if (typeof err.message === 'string' && !err.message.startsWith(message)) line += ` (${err.message})`;
    if (showStacks && typeof err.stack === 'string') line += `\n${err.stack}`;
  }
  return line;
}

/** A pino destination that writes readable lines; a line pino could not have written passes through. */
export function prettyDestination(out: NodeJS.WritableStream, showStacks: boolean): { write(line: string): boolean } {
  return {
    write(line: string): boolean {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return out.write(line);
      }
      return out.write(formatLogEntry(entry, showStacks) + '\n');
    },
  };
}

export function createProcessLogger(options: { name: string; level: string; format: LogFormat }): Logger {
  if (options.format === 'json') return pino({ name: options.name, level: options.level });
  const showStacks = options.level === 'debug' || options.level === 'trace';
  return pino({ name: options.name, level: options.level }, prettyDestination(process.stdout, showStacks));
}
