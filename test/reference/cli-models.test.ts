/**
 * `baseline create --model M [--version V]` with a file whose rows name other models or versions (a
 * log of every model, the wrong file, a typo in --model): refused with the rows per model (or
 * version) before anything is uploaded;
 * --dry-run lists it among the checks; --force uploads every row with a warning.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { profileFromUpload } from '../../src/reference/profile-check.ts';
import { MAX_COUNTED_MODELS } from '../../src/reference/training-file.ts';

const tmp = mkdtempSync(join(tmpdir(), 'driftwatch-cli-models-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function writeTmp(name: string, content: string | Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

/** Prediction events of the given models, in turn: `counts[model]` each. */
function eventLog(counts: Record<string, number>): string {
  const lines: string[] = [];
  let i = 0;
  for (const [model, n] of Object.entries(counts)) {
    for (let k = 0; k < n; k++, i++) lines.push(JSON.stringify({ id: `e${i}`, model, ts: 1_717_171_717_171 + i, output: (i % 10) / 10, features: { amount: i % 37, plan: i % 2 ? 'pro' : 'free' } }));
  }
  return `${lines.join('\n')}\n`;
}

interface Upload {
  model: string;
  rows: number;
  dryRun: boolean;
}

/** Runs the CLI against a stand-in gateway that accepts every upload and records it. */
async function create(file: string, ...flags: string[]): Promise<{ code: number; stdout: string; stderr: string; uploads: Upload[] }> {
  const uploads: Upload[] = [];
  let stdout = '';
  let stderr = '';
  const fakeGateway = (async (_url: string, init?: RequestInit) => {
    const body = JSON.parse(String(init?.body)) as { model: string; profile: string; dryRun?: boolean };
    const profile = profileFromUpload(Buffer.from(body.profile, 'base64'));
    uploads.push({ model: body.model, rows: profile.count, dryRun: body.dryRun === true });
    const answer = {
      id: 'p1', model: body.model, version: null, source: 'file', createdAt: 1, from: null, to: null, count: profile.count,
      features: { amount: 'numeric', plan: 'categorical' }, output: 'numeric', dryRun: body.dryRun === true, problems: [],
      inForce: body.dryRun === true ? null : { id: 'p1', model: body.model, version: null },
    };
    return new Response(JSON.stringify(answer), { status: body.dryRun === true ? 200 : 201, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  const code = await main(['baseline', 'create', '--model', 'fraud', '--file', file, '--gateway', 'http://127.0.0.1:9', ...flags], {}, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    fetch: fakeGateway,
  });
  return { code, stdout, stderr, uploads };
}

describe('baseline create with rows of other models', () => {
  it('refuses a log mixing models, with the rows per model and how to filter it; nothing is uploaded', async () => {
    const file = writeTmp('mixed.jsonl', eventLog({ churn: 450, fraud: 150 }));
    const result = await create(file);
    expect(result.code).toBe(1);
    expect(result.uploads).toEqual([]);
    expect(result.stderr).toBe(
      `driftwatch: ${file}: 450 of the 600 rows are of another model than 'fraud': rows by model: churn 450, fraud 150\n` +
        `nothing was uploaded: keep only model fraud's rows (for JSON Lines: jq -c 'select(.model == "fraud")' ${file} > fraud.jsonl), or pass --force to upload every row anyway\n`,
    );
  });

  it('says when no row is of the model at all (a typo in --model, the wrong file)', async () => {
    const file = writeTmp('churn.jsonl', eventLog({ churn: 300 }));
    const result = await create(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("none of the 300 rows are of model 'fraud' (is --model right?): rows by model: churn 300");
    expect(result.uploads).toEqual([]);
  });

  it('accepts a log of the model alone, and rows that name no model', async () => {
    const own = await create(writeTmp('fraud.jsonl', eventLog({ fraud: 120 })));
    expect(own.code).toBe(0);
    expect(own.stderr).toBe('');
    expect(own.uploads).toEqual([{ model: 'fraud', rows: 120, dryRun: false }]);
    const plain = await create(writeTmp('plain.csv', `amount,plan,output\n${Array.from({ length: 50 }, (_, i) => `${i},pro,0.5`).join('\n')}\n`));
    expect(plain.code).toBe(0);
    expect(plain.uploads).toEqual([{ model: 'fraud', rows: 50, dryRun: false }]);
  });

  it('reads the model of a CSV model column and of MessagePack events', async () => {
    const csv = writeTmp('mixed.csv', `model,amount,output\n${Array.from({ length: 30 }, (_, i) => `${i < 20 ? 'fraud' : ' churn '},${i},0.5`).join('\n')}\n`);
    const fromCsv = await create(csv);
    expect(fromCsv.code).toBe(1);
    expect(fromCsv.stderr).toContain(`${csv}: 10 of the 30 rows are of another model than 'fraud': rows by model: fraud 20, churn 10\nnothing was uploaded: keep only model fraud's rows, or pass --force`);
    const packed = writeTmp('mixed.msgpack', Buffer.concat(Array.from({ length: 12 }, (_, i) => encode({ id: `m${i}`, model: i % 3 === 0 ? 'ranker' : 'fraud', ts: 1 + i, output: 0.2, features: { x: i } }))));
    const fromMsgpack = await create(packed);
    expect(fromMsgpack.code).toBe(1);
    expect(fromMsgpack.stderr).toContain('4 of the 12 rows are of another model than \'fraud\': rows by model: fraud 8, ranker 4');
  });

  it('--dry-run lists it among the checks; --force uploads every row, warning on stderr', async () => {
    const file = writeTmp('mixed2.jsonl', eventLog({ fraud: 100, churn: 60, ranker: 40 }));
    const dry = await create(file, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.uploads).toEqual([{ model: 'fraud', rows: 200, dryRun: true }]);
    expect(dry.stdout).toContain("checks: problems\n  - 100 of the 200 rows are of another model than 'fraud': rows by model: fraud 100, churn 60, ranker 40\n");

    const forced = await create(file, '--force');
    expect(forced.code).toBe(0);
    expect(forced.uploads).toEqual([{ model: 'fraud', rows: 200, dryRun: false }]);
    expect(forced.stderr).toBe(`warning: ${file}: 100 of the 200 rows are of another model than 'fraud': rows by model: fraud 100, churn 60, ranker 40 (uploading anyway: --force)\n`);
    expect(forced.stdout).toContain("checks: problems\n  - 100 of the 200 rows are of another model than 'fraud'");
    expect(forced.stdout).toContain('(uploaded anyway: --force)');
  });

  it(`lists the ten largest models and sums the rest, also past the ${MAX_COUNTED_MODELS} counted one by one`, async () => {
    const counts: Record<string, number> = { fraud: 50 };
    for (let m = 0; m < MAX_COUNTED_MODELS + 5; m++) counts[`m${String(m).padStart(3, '0')}`] = m < 10 ? 20 - m : 1;
    const result = await create(writeTmp('many.jsonl', eventLog(counts)));
    expect(result.code).toBe(1);
    const others = Object.entries(counts).filter(([name]) => name !== 'fraud').reduce((sum, [, n]) => sum + n, 0);
    const largest = ['fraud 50', ...Array.from({ length: 9 }, (_, m) => `m${String(m).padStart(3, '0')} ${20 - m}`)];
    // 106 models named: fraud and 99 others counted one by one, the last 6 together
    expect(result.stderr).toContain(`${others} of the ${others + 50} rows are of another model than 'fraud': rows by model: ${largest.join(', ')}, other models ${others - (20 + 19 + 18 + 17 + 16 + 15 + 14 + 13 + 12)}\n`);
  });

  it('with --version, refuses rows of other versions of the model the same way, and --force uploads them with a warning', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 90; i++) {
      const version = i < 60 ? 'v2' : 'v1';
      lines.push(JSON.stringify({ id: `e${i}`, model: 'fraud', version, ts: 1_717_171_717_171 + i, output: (i % 10) / 10, features: { amount: i % 37, plan: i % 2 ? 'pro' : 'free' } }));
    }
    const file = writeTmp('versions.jsonl', `${lines.join('\n')}\n`);
    const refused = await create(file, '--version', 'v2');
    expect(refused.code).toBe(1);
    expect(refused.uploads).toEqual([]);
    expect(refused.stderr).toBe(
      `driftwatch: ${file}: 30 of the 90 rows are of another version than 'v2': rows by version: v2 60, v1 30\n` +
        `nothing was uploaded: keep only the rows of model fraud, version v2 (for JSON Lines: jq -c 'select(.model == "fraud" and .version == "v2")' ${file} > fraud.jsonl), or pass --force to upload every row anyway\n`,
    );
    const typo = await create(file, '--version', 'v3');
    expect(typo.stderr).toContain("none of the 90 rows are of version 'v3' (is --version right?): rows by version: v2 60, v1 30");
    // without --version nothing is checked: the profile is the model's, over its versions
    expect((await create(file)).code).toBe(0);
    const forced = await create(file, '--version', 'v2', '--force');
    expect(forced.code).toBe(0);
    expect(forced.uploads).toEqual([{ model: 'fraud', rows: 90, dryRun: false }]);
    expect(forced.stderr).toBe(`warning: ${file}: 30 of the 90 rows are of another version than 'v2': rows by version: v2 60, v1 30 (uploading anyway: --force)\n`);
  });
});
