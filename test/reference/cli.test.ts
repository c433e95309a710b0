import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { encode } from '@msgpack/msgpack';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { startPipeline, getJson, eventually } from '../helpers/pipeline.ts';
import type { Pipeline } from '../helpers/pipeline.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], env: Record<string, string | undefined> = {}, fetchImpl?: typeof fetch): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, env, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    fetch: fetchImpl,
  });
  return { code, stdout, stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'driftwatch-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function writeTmp(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

describe('driftwatch CLI: command line errors (exit 2, no gateway needed)', () => {
  const csv = writeTmp('ok.csv', 'a,output\n1,0.5\n');
  const cases: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['models'], /unknown command 'models'/],
    [['baseline'], /missing subcommand: baseline create\|capture\|list\|delete/],
    [['baseline', 'frobnicate'], /unknown subcommand 'baseline frobnicate'/],
    [['baseline', 'list', '--bogus'], /unknown option '--bogus'/],
    [['baseline', 'create', '--file', csv], /missing --model/],
    [['baseline', 'create', '--model', 'm'], /missing --file/],
    [['baseline', 'create', '--model'], /option --model needs a value/],
    [['baseline', 'create', '--model', 'a.b', '--file', csv], /--model 'a\.b' must be 1-128 letters, digits, '_' or '-'/],
    [['baseline', 'create', '--model', 'm', '--file', csv, '--format', 'xml'], /--format must be jsonl, csv or msgpack, got 'xml'/],
    [['baseline', 'create', '--model', 'm', '--file', join(tmp, 'train.txt')], /--file: cannot tell the format of .*train\.txt/],
    [['baseline', 'capture'], /missing --model/],
    [['baseline', 'list', '--file', csv], /option --file does not apply to 'baseline list'/],
    [['baseline', 'delete'], /missing ID/],
    [['baseline', 'delete', 'a', 'b'], /unexpected argument 'b'/],
    [['baseline', 'list', '--gateway', 'not a url'], /--gateway: 'not a url' is not a URL/],
    [['baseline', 'list', '--gateway', 'ftp://x'], /must be an http:\/\/ or https:\/\/ URL/],
  ];
  for (const [argv, message] of cases) {
    it(`driftwatch ${argv.join(' ') || '(nothing)'}`, async () => {
      const result = await run(argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toMatch(/driftwatch --help/);
      expect(result.stdout).toBe('');
    });
  }

  it('--help prints usage on stdout, exit 0', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/baseline create --model M --file F/);
    expect(result.stderr).toBe('');
  });

  it('reports a bad training file with its line before contacting the gateway (exit 1)', async () => {
    let called = false;
    const bad = writeTmp('bad.csv', 'a,b\n1,2\n3\n');
    const result = await run(['baseline', 'create', '--model', 'm', '--file', bad], {}, async () => {
      called = true;
      throw new Error('must not be called');
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${bad}: line 3: the row has 1 cell but the header has 2 columns`);
    expect(called).toBe(false);
    const missing = await run(['baseline', 'create', '--model', 'm', '--file', join(tmp, 'nope.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read --file .*nope\.csv: no such file/);
  });

  it('says when the gateway is not running (exit 1), using DRIFTWATCH_GATEWAY', async () => {
    // A port that was free a moment ago: nothing listens there.
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://127.0.0.1:${port}`;
    const result = await run(['baseline', 'list'], { DRIFTWATCH_GATEWAY: url });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`driftwatch: cannot reach the gateway at ${url}: is \`npm start\` running?\n`);
    const viaPort = await run(['baseline', 'list'], { PORT: String(port) });
    expect(viaPort.stderr).toContain(`cannot reach the gateway at http://127.0.0.1:${port}:`);
  });

  it("the driftwatch executable (workers/cli.ts, the package bin) exits with the command's code", async () => {
    const { spawnSync } = await import('node:child_process');
    const usage = spawnSync(process.execPath, ['--import', 'tsx', 'workers/cli.ts', 'baseline', 'frobnicate'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/unknown subcommand 'baseline frobnicate'/);
    const help = spawnSync(process.execPath, ['--import', 'tsx', 'workers/cli.ts', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: driftwatch <command>/);
  }, 30_000);
});

describe('driftwatch CLI against a real gateway', () => {
  let pipeline: Pipeline;
  const TOKEN = 's3cret-token';
  const env = { DRIFTWATCH_TOKEN: TOKEN };

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: { count: 1 }, reference: { autoCaptureMs: 0, minRows: 10 } }, { DRIFTWATCH_TOKEN: TOKEN });
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('creates a baseline from a CSV file, lists it, then deletes it', async () => {
    const lines = ['id,amount,country,output,label'];
    for (let i = 0; i < 100; i++) lines.push(`r${i},${(i * 1.5).toFixed(1)},"${i % 4 === 0 ? 'de, north' : 'fr'}",${i % 10 / 10},${i % 2}`);
    const file = writeTmp('train.csv', `${lines.join('\r\n')}\r\n`);

    const created = await run(['baseline', 'create', '--model', 'fraud', '--version', '1.2.0', '--file', file, '--ignore', 'id', '--gateway', pipeline.baseUrl], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const id = /^created baseline (\S+)$/m.exec(created.stdout)?.[1];
    expect(id).toBeDefined();
    expect(created.stdout).toMatch(/model: +fraud version 1\.2\.0/);
    expect(created.stdout).toMatch(/rows: +100$/m);
    expect(created.stdout).toMatch(/output: +numeric/);
    expect(created.stdout).toMatch(/features \(2\):\n +amount +numeric\n +country +categorical/);

    // The gateway holds exactly what the file said.
    const { body } = await getJson<{ baselines: Array<{ id: string; count: number; features: Record<string, string>; accuracy: number | null }> }>(
      `${pipeline.baseUrl}/v1/baselines?model=fraud`,
      { authorization: `Bearer ${TOKEN}` },
    );
    expect(body.baselines).toHaveLength(1);
    expect(body.baselines[0]).toMatchObject({ id, count: 100, features: { amount: 'numeric', country: 'categorical' } });
    // output i%10/10 >= 0.5 predicts 1 for i%10 >= 5, the label is i%2: right for i%10 in {0,2,4,5,7,9}.
    expect(body.baselines[0].accuracy).toBeCloseTo(0.6, 10);

    const listed = await run(['baseline', 'list', '--model', 'fraud', '--gateway', pipeline.baseUrl, '--token', TOKEN]);
    expect(listed.code).toBe(0);
    const [header, row, ...more] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID +MODEL +VERSION +SOURCE +ROWS +FEATURES +CREATED$/);
    expect(row.split(/ {2,}/).slice(0, 6)).toEqual([id, 'fraud', '1.2.0', 'file', '100', '2']);
    expect(more).toEqual([]);

    const deleted = await run(['baseline', 'delete', id as string, '--gateway', pipeline.baseUrl], env);
    expect(deleted).toEqual({ code: 0, stdout: `deleted baseline ${id}\nin force: no reference left for its model\n`, stderr: '' });

    const after = await run(['baseline', 'list', '--gateway', pipeline.baseUrl], env);
    expect(after).toEqual({ code: 0, stdout: 'no baselines\n', stderr: '' });

    const again = await run(['baseline', 'delete', id as string, '--gateway', pipeline.baseUrl], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`driftwatch: gateway answered 404 Not Found: no baseline '${id}'\n`);
  });

  it('creates a baseline from JSON Lines with custom output and label columns', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => JSON.stringify({ x: i, tier: i < 10 ? 'a' : 'b', score: i < 10 ? 'no' : 'yes', truth: 'yes' }));
    const file = writeTmp('train.ndjson', rows.join('\n'));
    const created = await run(['baseline', 'create', '--model', 'churn', '--file', file, '--output-column', 'score', '--label-column', 'truth', '--gateway', pipeline.baseUrl], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/model: +churn \(all versions\)/);
    expect(created.stdout).toMatch(/output: +categorical/);
    expect(created.stdout).toMatch(/accuracy: 50\.0%/);
    expect(created.stdout).toMatch(/features \(2\):\n +x +numeric\n +tier +categorical/);
  });

  it('prints the gateway message and status on HTTP errors (exit 1)', async () => {
    const noToken = await run(['baseline', 'list', '--gateway', pipeline.baseUrl]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/^driftwatch: gateway answered 401 Unauthorized: missing token/);

    const wrongToken = await run(['baseline', 'list', '--gateway', pipeline.baseUrl, '--token', 'nope']);
    expect(wrongToken.stderr).toBe('driftwatch: gateway answered 401 Unauthorized: invalid token\n');

    const unknownModel = await run(['baseline', 'capture', '--model', 'ghost', '--gateway', pipeline.baseUrl], env);
    expect(unknownModel.code).toBe(1);
    expect(unknownModel.stderr).toBe("driftwatch: gateway answered 404 Not Found: unknown model 'ghost'\n");
  });

  it('captures a baseline from a live window', async () => {
    const now = Date.now();
    for (let i = 0; i < 30; i++) {
      await pipeline.publisher.publishPrediction({ id: `p${i}`, model: 'live', ts: now - 20_000 + i * 100, output: i / 30, latencyMs: 10, features: { f: i } });
    }
    await pipeline.publisher.flush();
    await eventually(async () => {
      const { status, body } = await getJson<{ count: number }>(`${pipeline.baseUrl}/v1/models/live/metrics?window=5m`, { authorization: `Bearer ${TOKEN}` });
      return status === 200 && body.count === 30 ? true : undefined;
    }, 15_000, 'the predictions to reach the 5m window');

    const badWindow = await run(['baseline', 'capture', '--model', 'live', '--window', '7h', '--gateway', pipeline.baseUrl], env);
    expect(badWindow.code).toBe(1);
    expect(badWindow.stderr).toMatch(/^driftwatch: gateway answered 400 Bad Request: body\/window must be one of .*got '7h'/);

    const captured = await run(['baseline', 'capture', '--model', 'live', '--window', '5m', '--gateway', pipeline.baseUrl], env);
    expect(captured.stderr).toBe('');
    expect(captured.code).toBe(0);
    expect(captured.stdout).toMatch(/^captured baseline \S+$/m);
    expect(captured.stdout).toMatch(/rows: +30$/m);
    expect(captured.stdout).toMatch(/features \(1\):\n +f +numeric/);
    const listed = await run(['baseline', 'list', '--model', 'live', '--gateway', pipeline.baseUrl], env);
    expect(listed.stdout.split('\n')[1].split(/ {2,}/).slice(1, 5)).toEqual(['live', '*', 'window', '30']);
  });

  const list = async (model: string) =>
    (await getJson<{ baselines: Array<{ id: string; count: number; createdAt: number; features: Record<string, string> }> }>(`${pipeline.baseUrl}/v1/baselines?model=${model}`, { authorization: `Bearer ${TOKEN}` })).body.baselines;
  const inForce = async (model: string) => (await getJson<{ drift: { reference: string | null } }>(`${pipeline.baseUrl}/v1/models/${model}/metrics?window=5m`, { authorization: `Bearer ${TOKEN}` })).body.drift.reference;

  it('builds a reference from a JSONL log of wire-format events: exactly their features keys, whatever else each event carries', async () => {
    const events = Array.from({ length: 40 }, (_, i) => ({
      id: `req-${i}`,
      model: 'logged',
      version: 'v7',
      ts: 1717171717171 + i,
      output: i / 40,
      latencyMs: 12.5,
      segment: { region: 'eu' },
      trace: `t${i}`,
      features: { amount: i * 2.5, country: i % 3 === 0 ? 'FR' : 'DE' },
    }));
    events.push({ id: 'req-0', model: 'logged', ts: 1717171799999, label: 1 } as never);
    events.push({ id: 'req-39', model: 'logged', ts: 1717171799999, label: 0 } as never);
    events.push({ id: 'unknown', model: 'logged', ts: 1717171799999, label: 0 } as never);
    const file = writeTmp('events.jsonl', events.map((e) => JSON.stringify(e)).join('\n'));
    const created = await run(['baseline', 'create', '--model', 'logged', '--file', file, '--gateway', pipeline.baseUrl], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('40 rows (3 label events, 2 joined to their prediction)');
    expect(created.stdout).toMatch(/^trace +ignored \(not a feature\)/m);
    const [profile] = await list('logged');
    expect(Object.keys(profile.features).sort()).toEqual(['amount', 'country']);
    expect(profile.count).toBe(40);
    // req-0 (output 0) with label 1 is wrong, req-39 (output 0.975) with label 0 is wrong
    expect((profile as unknown as { accuracy: number }).accuracy).toBe(0);
    expect(created.stdout).toContain(`in force: ${profile.id} for model logged (all versions)`);
  });

  it('a CSV with id and timestamp columns: they are not features, and the column table is printed before the upload', async () => {
    const lines = ['row_id,event_time,amount,plan,empty,score'];
    for (let i = 0; i < 30; i++) lines.push(`${1000 + i},2024-05-0${1 + (i % 9)}T10:00:00Z,${i * 1.5},${i % 2 ? 'pro' : 'free'},,${(i % 10) / 10}`);
    const file = writeTmp('ids.csv', lines.join('\n'));
    const created = await run(['baseline', 'create', '--model', 'csvids', '--file', file, '--output-column', 'score', '--gateway', pipeline.baseUrl], env);
    expect(created.code).toBe(0);
    const table = created.stdout.slice(0, created.stdout.indexOf('created baseline')).trimEnd().split('\n').slice(1);
    expect(table.map((line) => line.split(/ {2,}/))).toEqual([
      ['COLUMN', 'ROLE', 'TYPE', 'VALUES', 'MISSING'],
      ['row_id', 'ignored (id)', 'numeric', '30', '0.0%'],
      ['event_time', 'ignored (timestamp)', 'categorical', '30', '0.0%'],
      ['amount', 'feature', 'numeric', '30', '0.0%'],
      ['plan', 'feature', 'categorical', '30', '0.0%'],
      ['empty', 'feature', 'empty', '0', '100.0%'],
      ['score', 'output', 'numeric', '30', '0.0%'],
    ]);
    const [profile] = await list('csvids');
    expect(profile.features).toEqual({ amount: 'numeric', plan: 'categorical' });
  });

  it('a typo in --ignore, --output-column or --label-column is an error listing the columns (nothing uploaded)', async () => {
    const file = writeTmp('typo.csv', 'id,amount,output\n1,2,0.5\n');
    const ignore = await run(['baseline', 'create', '--model', 'typo', '--file', file, '--ignore', 'idd', '--gateway', pipeline.baseUrl], env);
    expect(ignore).toEqual({ code: 1, stdout: '', stderr: `driftwatch: ${file}: line 1: the ignored column 'idd' is not in the file (columns: id, amount, output)\n` });
    const label = await run(['baseline', 'create', '--model', 'typo', '--file', file, '--label-column', 'truth', '--gateway', pipeline.baseUrl], env);
    expect(label.stderr).toContain("the label column 'truth' is not in the file (columns: id, amount, output)");
    expect(await list('typo')).toEqual([]);
  });

  it('--feature-column keeps a column named like an id as a feature; naming a missing column, or one also ignored, is an error', async () => {
    const lines = ['user_id,amount,output'];
    for (let i = 0; i < 20; i++) lines.push(`${i % 4},${i * 1.5},${(i % 10) / 10}`);
    const file = writeTmp('keep.csv', lines.join('\n'));
    const created = await run(['baseline', 'create', '--model', 'keepid', '--file', file, '--feature-column', 'user_id', '--force', '--gateway', pipeline.baseUrl], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^user_id +feature +discrete/m);
    const [profile] = await list('keepid');
    expect(Object.keys(profile.features).sort()).toEqual(['amount', 'user_id']);

    const missing = await run(['baseline', 'create', '--model', 'keepid2', '--file', file, '--feature-column', 'userid', '--gateway', pipeline.baseUrl], env);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: `driftwatch: ${file}: line 1: the feature column 'userid' is not in the file (columns: user_id, amount, output)\n` });
    const both = await run(['baseline', 'create', '--model', 'keepid2', '--file', file, '--feature-column', 'user_id', '--ignore', 'user_id', '--gateway', pipeline.baseUrl], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--feature-column and --ignore both name 'user_id'");
    expect(await list('keepid2')).toEqual([]);
  });

  it('reads a MessagePack stream of events', async () => {
    const events = Array.from({ length: 25 }, (_, i) => encode({ id: `m${i}`, model: 'packed', ts: 1717171717171 + i, output: i % 2 === 0 ? 'yes' : 'no', features: { x: i, tier: i < 12 ? 'a' : 'b' } }));
    const file = join(tmp, 'events.msgpack');
    writeFileSync(file, Buffer.concat(events));
    const created = await run(['baseline', 'create', '--model', 'packed', '--file', file, '--gateway', pipeline.baseUrl], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/output: +categorical/);
    const [profile] = await list('packed');
    expect(profile).toMatchObject({ count: 25, features: { x: 'numeric', tier: 'categorical' } });
  });

  it('refuses a one-row or mismatched upload (the reference in force stays), shows checks on --dry-run, takes --force, and deleting the one in force falls back to the newest remaining', async () => {
    const now = Date.now();
    for (let i = 0; i < 30; i++) await pipeline.publisher.publishPrediction({ id: `s${i}`, model: 'safe', ts: now - 20_000 + i * 100, output: i / 30, latencyMs: 5, features: { amount: i, plan: i % 2 ? 'pro' : 'free' } });
    await pipeline.publisher.flush();
    await eventually(async () => {
      const { status, body } = await getJson<{ count: number }>(`${pipeline.baseUrl}/v1/models/safe/metrics?window=5m`, { authorization: `Bearer ${TOKEN}` });
      return status === 200 && body.count === 30 ? true : undefined;
    }, 15_000, 'the predictions to reach the 5m window');
    const rows = (n: number, row: (i: number) => string, header: string) => writeTmp(`safe-${header.replace(/\W/g, '')}-${n}.csv`, [header, ...Array.from({ length: n }, (_, i) => row(i))].join('\n'));
    const good = rows(50, (i) => `${i},${i % 2 ? 'pro' : 'free'},${i / 50}`, 'amount,plan,output');
    const create = (file: string, ...flags: string[]) => run(['baseline', 'create', '--model', 'safe', '--file', file, '--gateway', pipeline.baseUrl, ...flags], env);

    const first = await create(good);
    expect(first.code).toBe(0);
    const firstId = /^created baseline (\S+)$/m.exec(first.stdout)?.[1] as string;
    expect(first.stdout).toContain(`in force: ${firstId} for model safe (all versions)`);
    expect(first.stdout).not.toContain('checks: problems');

    const oneRow = await create(rows(1, () => '3,pro,0.5', 'amount,plan,output'));
    expect(oneRow.code).toBe(1);
    expect(oneRow.stderr).toContain('the gateway refused the profile:\n  - the profile describes 1 row, fewer than the minimum of 10 (reference.minRows)');
    expect(oneRow.stderr).toContain('pass --force to upload it anyway');

    const mismatched = rows(50, (i) => `${i},c${i % 3},${i / 50}`, 'amount,plan_code,output');
    const refused = await create(mismatched);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('  - features the model sends but the profile lacks (their drift would not be checked): plan');
    expect(refused.stderr).toContain('  - features in the profile the model does not send: plan_code');
    expect((await list('safe')).map((p) => p.id)).toEqual([firstId]);
    expect(await inForce('safe')).toBe(firstId);

    const dry = await create(mismatched, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^dry run: nothing uploaded$/m);
    expect(dry.stdout).toContain('checks: problems\n  - features the model sends but the profile lacks');
    expect((await list('safe')).map((p) => p.id)).toEqual([firstId]);

    const forced = await create(mismatched, '--force');
    expect(forced.code).toBe(0);
    const forcedId = /^created baseline (\S+)$/m.exec(forced.stdout)?.[1] as string;
    expect(forced.stdout).toContain('(uploaded anyway: --force)');
    expect(forced.stdout).toContain(`in force: ${forcedId} for model safe (all versions)`);
    await eventually(async () => (await inForce('safe')) === forcedId || undefined, 10_000, 'the forced profile in force');

    const deleted = await run(['baseline', 'delete', forcedId, '--gateway', pipeline.baseUrl], env);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toBe(`deleted baseline ${forcedId}\nin force: ${firstId} for model safe (all versions)\n`);
    await eventually(async () => (await inForce('safe')) === firstId || undefined, 10_000, 'the fallback to the newest remaining profile');
    expect((await list('safe')).map((p) => p.id)).toEqual([firstId]);
  }, 60_000);
});

