import { setFlagsFromString } from 'node:v8';

/**
 * Sets how far V8 lets this process's heaps grow past the live size its last full collection left
 * before the next one starts (config gateway.heapGrowingPercent; 0: V8's own choice, which it
 * makes again at each collection). A V8 flag, so it holds for the whole process and every thread
 * in it, from the next collection on.
 */
export function applyHeapGrowth(percent: number, setFlags: (flags: string) => void = setFlagsFromString): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growing percent: ${percent} is not a whole number >= 0`);
  setFlags(`--heap-growing-percent=${percent}`);
}
