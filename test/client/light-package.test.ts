/**
 * The light client package (packages/client, `driftwatch-client`) as a model service gets it:
 * the import closure of src/client holds nothing but the NATS client, msgpack and Node built-ins;
 * the tarball `npm pack` makes installs into an empty project with a handful of packages (none of
 * the server's fastify, pino, prom-client, tsx); and plain Node imports it and publishes through it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { EVENTS_STREAM, META_BUCKET, META_KEY, SCHEMA_VERSION } from '../../src/cluster/subjects.ts';
import { EventDecoder } from '../../src/events/decode.ts';
import { partitionOf } from '../../src/partition/hash.ts';
import { startLocalNats, type LocalNats } from './local-nats.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const packageDir = path.join(root, 'packages/client');
const readJson = (file: string): Record<string, Record<string, string>> => JSON.parse(readFileSync(file, 'utf8'));
const HEAVY = ['fastify', 'pino', 'prom-client', 'tsx', 'ws', 'simple-statistics', 'tdigest', '@nats-io/obj'];

/** Bare module specifiers reached from a source file through its relative imports. */
function importClosure(entry: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/^(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)) {
      const specifier = match[1];
      if (specifier.startsWith('.')) visit(path.resolve(path.dirname(file), specifier));
      else bare.add(specifier);
    }
  };
  visit(entry);
  return { files, bare };
}

describe('the light client package', () => {
  it('declares exactly what src/client imports, at the versions the root package uses', () => {
    const { files, bare } = importClosure(path.join(root, 'src/client/index.ts'));
    const pkg = readJson(path.join(packageDir, 'package.json'));
    const rootPkg = readJson(path.join(root, 'package.json'));
    const imported = [...bare].filter((s) => !s.startsWith('node:')).sort();
    expect(imported).toEqual(Object.keys(pkg.dependencies).sort());
    for (const [name, range] of Object.entries(pkg.dependencies)) expect(range, name).toBe(rootPkg.dependencies[name]);
    // the closure stays within the bottom layers a publisher needs
    const folders = new Set([...files].map((f) => path.relative(path.join(root, 'src'), f).split(path.sep)[0]));
    expect([...folders].sort()).toEqual(['client', 'cluster', 'contract', 'events', 'partition']);
  });

  describe('packed, installed into an empty project', () => {
    let work: string;
    let app: string;
    let server: LocalNats;

    beforeAll(async () => {
      work = mkdtempSync(path.join(os.tmpdir(), 'driftwatch-light-client-'));
      app = path.join(work, 'model-service');
      mkdirSync(app);
      server = await startLocalNats();
    });

    afterAll(async () => {
      await server?.stop();
      if (work !== undefined) rmSync(work, { recursive: true, force: true });
    });

    it('installs with the NATS client and msgpack only, and plain Node imports it and publishes', async () => {
      // `npm pack` builds the package (prepack) and writes the tarball a registry would serve
      const tarball = execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: packageDir, encoding: 'utf8' }).trim().split('\n').pop()!;
      writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'model-service', version: '1.0.0', private: true, type: 'module' }));
      execFileSync('npm', ['install', path.join(work, tarball), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, stdio: 'pipe', timeout: 240_000 });

      const installed = execFileSync('npm', ['ls', '--all', '--parseable'], { cwd: app, encoding: 'utf8' })
        .trim()
        .split('\n')
        .slice(1) // the project itself
        .map((dir) => path.relative(path.join(app, 'node_modules'), dir));
      console.log(`driftwatch-client installs ${installed.length} packages: ${installed.join(', ')}`);
      expect(installed).toContain('driftwatch-client');
      expect(installed).toContain('@nats-io/transport-node');
      expect(installed.length).toBeLessThanOrEqual(12);
      for (const heavy of HEAVY) expect(installed).not.toContain(heavy);
      expect(readdirSync(path.join(app, 'node_modules'))).not.toContain('typescript');

      // plain Node, no TypeScript loader: import, then publish a prediction and a failed inference
      const jsm = await jetstreamManager(server.nc);
      await jsm.streams.add({ name: EVENTS_STREAM, subjects: ['drift.in.>'] });
      const kv = await new Kvm(server.nc).create(META_BUCKET);
      await kv.put(META_KEY, JSON.stringify({ partitions: 4, schemaVersion: SCHEMA_VERSION, createdAt: new Date().toISOString() }));
      const script = [
        "import { connect } from '@nats-io/transport-node';",
        "import { DriftPublisher, partitionOf } from 'driftwatch-client';",
        'const nc = await connect({ servers: process.env.NATS_URL });',
        'const publisher = await DriftPublisher.connect(nc);',
        "await publisher.publishPrediction({ id: 'svc-1', model: 'fraud', ts: 1000, output: 0.5 });",
        "await publisher.publishPrediction({ id: 'svc-2', model: 'fraud', ts: 1001, error: 'timeout' });",
        'await publisher.close();',
        'await nc.close();',
        "console.log(JSON.stringify({ partitions: publisher.partitions, partition: partitionOf('svc-1', 4) }));",
      ].join('\n');
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: app,
        encoding: 'utf8',
        env: { ...process.env, NATS_URL: server.url, NODE_OPTIONS: '' },
      });
      expect(JSON.parse(out)).toEqual({ partitions: 4, partition: partitionOf('svc-1', 4) });

      const stream = await jetstream(server.nc).streams.get(EVENTS_STREAM);
      const decoder = new EventDecoder();
      const first = await stream.getMessage({ seq: 1 });
      const second = await stream.getMessage({ seq: 2 });
      expect(first?.header.get('Nats-Msg-Id')).toBe('fraud:svc-1:pred');
      expect(decoder.decodePrediction(first!.data)).toEqual({ ok: true, event: { id: 'svc-1', model: 'fraud', version: 'default', ts: 1000, output: 0.5 } });
      expect(decoder.decodePrediction(second!.data)).toEqual({ ok: true, event: { id: 'svc-2', model: 'fraud', version: 'default', ts: 1001, error: 'timeout' } });
    }, 300_000);
  });
});
