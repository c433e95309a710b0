/**
 * Bench dispatcher: `npm run bench -- <name> [args]` runs bench/<name>.ts in a fresh Node process
 * (so one bench's heap and JIT state never colour another's figures) and exits with its code.
 *
 *   npm run bench                 lists the benches
 *   npm run bench -- ingest --count 100000
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const SELF = path.basename(fileURLToPath(import.meta.url));

/** Bench names: every bench/*.ts except this dispatcher, sorted. */
export function listBenches(dir: string = BENCH_DIR): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && file !== SELF)
    .map((file) => file.slice(0, -'.ts'.length))
    .sort();
}

function usage(names: string[]): string {
  return `usage: npm run bench -- <name> [args]\nbenches: ${names.length > 0 ? names.join(', ') : '(none)'}`;
}

/** Runs bench/<name>.ts with the given args; resolves with the child's exit code. */
export function runBench(name: string, args: readonly string[]): Promise<number> {
  const file = path.join(BENCH_DIR, `${name}.ts`);
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal's process group; do not die before it reports.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', ignore);
      if (signal !== null) console.error(`bench ${name} was killed by ${signal}`);
      resolve(code ?? 1);
    });
  });
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const names = listBenches();
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(usage(names));
    return 0;
  }
  if (!names.includes(name)) {
    console.error(`unknown bench '${name}'. Valid names: ${names.join(', ')}\n${usage(names)}`);
    return 2;
  }
  return runBench(name, args);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
