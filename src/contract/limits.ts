/**
 * Constants every entry point must agree on: the wire format, the HTTP/WebSocket schemas and the
 * CLI check the same version length, and every place that picks a window when a request names
 * none picks the same one.
 */

/** Characters (UTF-16 code units) in a model version name. Part of the wire contract (docs/wire-format.md). */
export const VERSION_MAX_LENGTH = 64;

/** Window used when a request names none, if the configured windows include it. */
export const DEFAULT_WINDOW = '5m';

/** `DEFAULT_WINDOW` when `windows` has it, else the first configured window. */
export function defaultWindowOf(windows: readonly string[]): string {
  return windows.includes(DEFAULT_WINDOW) ? DEFAULT_WINDOW : windows[0];
}
