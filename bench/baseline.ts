/**
 * `baseline create`'s summarising path on generated training files: rows/s and peak RSS of the
 * process that streams a file into a reference profile (src/cli/training-source.ts +
 * src/reference/profile-builder.ts), for CSV and JSON Lines of 1M and 10M rows (5 numeric
 * features, 1 categorical, an id, a timestamp, a score output and a 0/1 label). Each file is
 * written to a temp directory, then summarised in a child process, whose peak RSS
 * (process.resourceUsage().maxRSS) is the figure: the issue's bound is 300 MB at 10M rows.
 *
 *   npm run bench -- baseline                 1M and 10M rows (minutes: the 10M files are ~1 GB)
 *   npm run bench -- baseline --quick         100k rows
 *   npm run bench -- baseline --rows 1000000  one size
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ProfileBuilder } from '../src/reference/profile-builder.ts';
import { profileToBytes } from '../src/reference/profile.ts';
import type { TrainingFileFormat } from '../src/reference/training-file.ts';
import { readTrainingFile } from '../src/cli/training-source.ts';

type Format = Extract<TrainingFileFormat, 'csv' | 'jsonl'>;

interface ChildResult {
  rows: number;
  bytes: number;
  ms: number;
  profileBytes: number;
  features: number;
  exact: boolean;
  maxRssMB: number;
}

/** Row i of the generated file: deterministic, with spread-out numbers so sketches are realistic. */
function row(i: number, format: Format): string {
  const a = ((i * 7919) % 100_003) / 100.0;
  const b = Math.round(((i * 104729) % 1_000_000) / 10) / 100;
  const c = (i % 97) - 48;
  const d = ((i * 31) % 1000) / 7;
  const e = Math.sqrt(i % 10_000);
  const country = ['FR', 'DE', 'US', 'BR', 'IN'][i % 5];
  const score = ((i * 2654435761) % 1000) / 1000;
  const label = (i * 40503) % 1000 < score * 1000 ? 1 : 0;
  const ts = 1_717_171_717_171 + i;
  if (format === 'csv') return `r${i},${ts},${a},${b},${c},${d.toFixed(4)},${e.toFixed(4)},${country},${score},${label}\n`;
  return `{"id":"r${i}","ts":${ts},"amount":${a},"balance":${b},"delta":${c},"ratio":${d.toFixed(4)},"root":${e.toFixed(4)},"country":"${country}","output":${score},"label":${label}}\n`;
}

async function generate(file: string, rows: number, format: Format): Promise<void> {
  const out = createWriteStream(file);
  if (format === 'csv') out.write('id,ts,amount,balance,delta,ratio,root,country,output,label\n');
  const BATCH = 10_000;
  for (let start = 0; start < rows; start += BATCH) {
    let text = '';
    for (let i = start; i < Math.min(rows, start + BATCH); i++) text += row(i, format);
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/** The child: summarise one file, report one JSON line. */
async function child(file: string, format: Format): Promise<void> {
  const started = performance.now();
  const builder = new ProfileBuilder('bench', 'bench', null);
  const read = await readTrainingFile(file, format, {}, (r) => builder.add(r), { update() {}, done() {} });
  const profile = builder.build();
  const bytes = profileToBytes(profile);
  const result: ChildResult = {
    rows: read.rows,
    bytes: read.bytes,
    ms: performance.now() - started,
    profileBytes: bytes.length,
    features: Object.keys(profile.features).length,
    exact: builder.isExact,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(file: string, format: Format): Promise<ChildResult> {
  const self = fileURLToPath(import.meta.url);
  const proc = spawn(process.execPath, ['--import', 'tsx', self, '--child', file, '--format', format], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() as string) as ChildResult) : reject(new Error(`child exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, rows: { type: 'string' }, child: { type: 'string' }, format: { type: 'string' }, formats: { type: 'string' } } });
  if (values.child !== undefined) return child(values.child, values.format as Format);
  const sizes = values.rows !== undefined ? [Number(values.rows)] : values.quick ? [100_000] : [1_000_000, 10_000_000];
  const formats = (values.formats?.split(',') ?? ['csv', 'jsonl']) as Format[];
  const dir = mkdtempSync(path.join(tmpdir(), 'driftwatch-bench-baseline-'));
  const results: Array<{ format: Format; rows: number; fileMB: number; seconds: number; rowsPerSecond: number; mbPerSecond: number; peakRssMB: number; profileKB: number; exact: boolean }> = [];
  try {
    for (const rows of sizes) {
      for (const format of formats) {
        const file = path.join(dir, `train-${rows}.${format}`);
        await generate(file, rows, format);
        const fileMB = statSync(file).size / 1e6;
        const r = await runChild(file, format);
        rmSync(file);
        if (r.rows !== rows) throw new Error(`${format} ${rows}: the child read ${r.rows} rows`);
        const entry = {
          format,
          rows,
          fileMB: Number(fileMB.toFixed(1)),
          seconds: Number((r.ms / 1000).toFixed(2)),
          rowsPerSecond: Math.round(rows / (r.ms / 1000)),
          mbPerSecond: Number((fileMB / (r.ms / 1000)).toFixed(1)),
          peakRssMB: Math.round(r.maxRssMB),
          profileKB: Number((r.profileBytes / 1024).toFixed(1)),
          exact: r.exact,
        };
        results.push(entry);
        console.log(
          `${format.padEnd(5)} ${rows.toLocaleString('en-US').padStart(10)} rows  ${entry.fileMB.toFixed(1).padStart(7)} MB  ${entry.seconds.toFixed(1).padStart(6)} s  ${entry.rowsPerSecond.toLocaleString('en-US').padStart(9)} rows/s  ${entry.mbPerSecond.toFixed(1).padStart(5)} MB/s  peak RSS ${String(entry.peakRssMB).padStart(4)} MB  profile ${entry.profileKB} KB${entry.exact ? ' (exact)' : ''}`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ bench: 'baseline', results }));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
