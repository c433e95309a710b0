// Worker-thread bootstrap: a thread does not inherit the TypeScript loader of its parent, so it
// registers tsx itself before loading the TypeScript entry (as src/partition/thread-entry.mjs).
import { register } from 'tsx/esm/api';

register();
await import('./gateway-publisher.ts');
