import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
    [['baseline', 'create', '--model', 'm', '--file', csv, '--format', 'xml'], /--format must be jsonl or csv, got 'xml'/],
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
    pipeline = await startPipeline({ partitions: { count: 1 }, reference: { autoCaptureMs: 0 } }, { DRIFTWATCH_TOKEN: TOKEN });
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
    expect(deleted).toEqual({ code: 0, stdout: `deleted baseline ${id}\n`, stderr: '' });

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
});
