// Worker-thread bootstrap: a thread does not inherit the TypeScript loader of its parent, so it
// registers tsx itself before loading the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');
