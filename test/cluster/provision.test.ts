import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError, connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.ts';
import {
  DEFAULT_PARTITIONS,
  LEASE_TTL_MS,
  PartitionMismatchError,
  StreamConfigConflictError,
  createBucket,
  metadataEntry,
  provision,
} from '../../src/cluster/provision.ts';
import { readClusterMetadata } from '../../src/cluster/metadata.ts';
import {
  ALERTS_STREAM,
  ALERT_STATE_BUCKET,
  AUDIT_STREAM,
  WEBHOOK_CLAIMS_BUCKET,
  BASELINES_BUCKET,
  CHECKPOINTS_BUCKET,
  DLQ_STREAM,
  EVENTS_STREAM,
  LEASES_BUCKET,
  META_BUCKET,
  META_KEY,
  MODELS_BUCKET,
  PANES_STREAM,
  SCHEMA_VERSION,
  eventsSubjects,
} from '../../src/cluster/subjects.ts';

const NS_PER_MS = 1_000_000;

describe('provision (single server)', () => {
  let srv: NatsServerHandle;
  beforeAll(async () => {
    srv = await startNatsServer();
  });
  afterAll(async () => {
    await srv?.stop();
  });

  async function withConnection<T>(fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
    const nc = await connect({ servers: srv.url });
    try {
      return await fn(nc);
    } finally {
      await nc.close();
    }
  }

  it('is idempotent and creates every resource with the right subjects and limits', async () => {
    await withConnection(async (nc) => {
      expect(await readClusterMetadata(nc)).toBeNull();
      const first = await provision(nc, { partitions: 8, panesMaxAgeMs: 3_600_000 });
      expect(first.partitions).toBe(8);
      expect(first.schemaVersion).toBe(SCHEMA_VERSION);
      expect(Number.isNaN(Date.parse(first.createdAt))).toBe(false);

      const second = await provision(nc, { partitions: 8, panesMaxAgeMs: 3_600_000 });
      expect(second).toEqual(first);
      // requested undefined: accept what is stored
      expect(await provision(nc, { panesMaxAgeMs: 3_600_000 })).toEqual(first);
      expect(await readClusterMetadata(nc)).toEqual(first);

      const jsm = await jetstreamManager(nc);
      const events = (await jsm.streams.info(EVENTS_STREAM)).config;
      expect(events.subjects).toEqual(eventsSubjects(8));
      expect(events.subjects).toContain('drift.in.7.*.label');
      expect(events.storage).toBe(StorageType.File);
      expect(events.retention).toBe(RetentionPolicy.Limits);
      expect(events.max_age).toBe(7 * 24 * 3600_000 * NS_PER_MS);

      const alerts = (await jsm.streams.info(ALERTS_STREAM)).config;
      expect(alerts.subjects).toEqual(['drift.alert.>']);
      expect(alerts.duplicate_window).toBe(120_000 * NS_PER_MS);
      expect(alerts.max_age).toBe(30 * 24 * 3600_000 * NS_PER_MS);

      const dlq = (await jsm.streams.info(DLQ_STREAM)).config;
      expect(dlq.subjects).toEqual(['drift.dlq.>']);
      expect(dlq.max_age).toBe(7 * 24 * 3600_000 * NS_PER_MS);

      const panes = (await jsm.streams.info(PANES_STREAM)).config;
      expect(panes.subjects).toEqual(['drift.pane.>']);
      expect(panes.max_msgs_per_subject).toBe(1);
      expect(panes.max_age).toBe(3_600_000 * NS_PER_MS);

      const leases = (await jsm.streams.info(`KV_${LEASES_BUCKET}`)).config;
      expect(leases.max_age).toBe(LEASE_TTL_MS * NS_PER_MS);
      expect(leases.max_msgs_per_subject).toBe(1);
      expect((await jsm.streams.info(`KV_${META_BUCKET}`)).config.max_msgs_per_subject).toBe(1);
      expect((await jsm.streams.info(`OBJ_${CHECKPOINTS_BUCKET}`)).config.num_replicas).toBe(1);
      expect((await jsm.streams.info(`OBJ_${BASELINES_BUCKET}`)).config.name).toBe(`OBJ_${BASELINES_BUCKET}`);

      // a second provision must not have created duplicate streams
      const names: string[] = [];
      for await (const name of jsm.streams.names()) names.push(name);
      expect(names.sort()).toEqual(
        [ALERTS_STREAM, AUDIT_STREAM, DLQ_STREAM, EVENTS_STREAM, PANES_STREAM, `KV_${META_BUCKET}`, `KV_${LEASES_BUCKET}`,
          `KV_${ALERT_STATE_BUCKET}`, `KV_${WEBHOOK_CLAIMS_BUCKET}`, `KV_${MODELS_BUCKET}`, `OBJ_${CHECKPOINTS_BUCKET}`, `OBJ_${BASELINES_BUCKET}`].sort(),
      );

      // panes keep only the latest state per subject
      const js = jsm.jetstream();
      await js.publish('drift.pane.0.1000.in', 'a');
      await js.publish('drift.pane.0.1000.in', 'b');
      expect((await jsm.streams.info(PANES_STREAM)).state.messages).toBe(1);
    });
  });

  it('rejects a different partition count with a message saying how to fix it', async () => {
    await withConnection(async (nc) => {
      const err = await provision(nc, { partitions: 4 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PartitionMismatchError);
      expect((err as Error).message).toBe(
        'DRIFT_EVENTS was created with 8 partitions but this process was configured with 4 (DRIFTWATCH_PARTITIONS). ' +
          'The partition count is fixed when the stream is created: unset DRIFTWATCH_PARTITIONS or set it to 8.',
      );
    });
  });

  it('updates what is safe on an existing stream and reports it', async () => {
    await withConnection(async (nc) => {
      const jsm = await jetstreamManager(nc);
      // a stream provisioned by an earlier driftwatch stored every drift.in.> subject
      await jsm.streams.update(EVENTS_STREAM, { subjects: ['drift.in.>', 'legacy.in.>'], max_age: 600_000 * NS_PER_MS });
      await jsm.streams.update(PANES_STREAM, { max_msgs_per_subject: 5 });
      const warnings: string[][] = [];
      const logger = {
        info: () => {},
        warn: (obj: object) => warnings.push((obj as { differences?: string[] }).differences ?? []),
      };
      await provision(nc, { partitions: 8, panesMaxAgeMs: 3_600_000, logger });
      const events = (await jsm.streams.info(EVENTS_STREAM)).config;
      expect(events.subjects).toEqual(['legacy.in.>', ...eventsSubjects(8)]);
      expect(events.max_age).toBe(7 * 24 * 3600_000 * NS_PER_MS);
      expect((await jsm.streams.info(PANES_STREAM)).config.max_msgs_per_subject).toBe(1);
      expect(warnings.flat()).toEqual([
        'subjects ["drift.in.>"] of an earlier driftwatch: replaced by the 16 subjects of the partitions',
        'max_age 600000 ms -> 604800000 ms',
        'max_msgs_per_subject 5 -> 1',
      ]);
    });
  });

  it('adds a missing subject and refuses a retention policy that would lose events', async () => {
    await withConnection(async (nc) => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(DLQ_STREAM);
      await jsm.streams.add({ name: DLQ_STREAM, subjects: ['other.dlq.>'], retention: RetentionPolicy.Workqueue });
      const err = await provision(nc, { partitions: 8, panesMaxAgeMs: 3_600_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StreamConfigConflictError);
      expect((err as Error).message).toMatch(/^stream DRIFT_DLQ: retention is "workqueue" but driftwatch needs "limits"/);

      await jsm.streams.delete(DLQ_STREAM);
      await jsm.streams.add({ name: DLQ_STREAM, subjects: ['other.dlq.>'] });
      await provision(nc, { partitions: 8, panesMaxAgeMs: 3_600_000 });
      expect((await jsm.streams.info(DLQ_STREAM)).config.subjects).toEqual(['other.dlq.>', 'drift.dlq.>']);
    });
  });

  it('refuses events no worker would consume: a partition out of range or a malformed subject', async () => {
    await withConnection(async (nc) => {
      const js = (await jetstreamManager(nc)).jetstream();
      const before = (await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM)).state.messages;
      for (const subject of ['drift.in.8.fraud.pred', 'drift.in.99.fraud.label', 'drift.in.x.fraud.pred', 'drift.in.1.fraud.score', 'drift.in.1.fraud']) {
        await expect(js.publish(subject, 'x', { timeout: 2_000 }), subject).rejects.toThrow();
      }
      await js.publish('drift.in.7.fraud.pred', 'x');
      await js.publish('drift.in.0.fraud.label', 'x');
      expect((await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM)).state.messages).toBe(before + 2);
    });
  });

  it('rejects bad options with the field name', async () => {
    await withConnection(async (nc) => {
      await expect(provision(nc, { partitions: 0 })).rejects.toThrow(
        'provision: partition count must be an integer from 1 to 4096, got 0',
      );
      await expect(provision(nc, { partitions: 8, eventsMaxAgeMs: -5 })).rejects.toThrow(
        'provision: eventsMaxAgeMs must be a positive number of ms, got -5',
      );
    });
  });

  it('reports corrupt stored metadata with bucket, key and field', async () => {
    await withConnection(async (nc) => {
      const kv = await new Kvm(nc).open(META_BUCKET);
      const good = await kv.get(META_KEY);
      await kv.put(META_KEY, JSON.stringify({ partitions: 'sixteen', schemaVersion: 1, createdAt: 'x' }));
      await expect(readClusterMetadata(nc)).rejects.toThrow('KV DRIFT_META/cluster: "partitions" must be a number');
      await kv.put(META_KEY, good!.value);
      expect((await readClusterMetadata(nc))?.partitions).toBe(8);
    });
  });
});

describe('provision without JetStream', () => {
  it('says JetStream is not answering and how to enable it', async () => {
    const srv = await startNatsServer({ jetstream: false });
    const nc = await connect({ servers: srv.url });
    try {
      const started = Date.now();
      const err = await provision(nc, { waitForJetStreamMs: 600 }).catch((e: unknown) => e as Error);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect((err as Error).message).toMatch(/^JetStream did not answer within 600 ms \(last error: .+\)\. Is JetStream enabled on the server \(nats-server -js/);
    } finally {
      await nc.close();
      await srv.stop();
    }
  });
});

describe('provision races', () => {
  it('reads the metadata again when a read times out (a loaded machine), and gives up after three', async () => {
    const srv = await startNatsServer();
    const nc = await connect({ servers: srv.url });
    try {
      const stored = await provision(nc);
      const kv = await new Kvm(nc).open(META_BUCKET);
      const timingOut = (failures: number, error: () => Error = () => new TimeoutError()) => {
        let reads = 0;
        const flaky = new Proxy(kv, {
          get: (target, key, receiver) =>
            key === 'get'
              ? (k: string) => (++reads <= failures ? Promise.reject(error()) : target.get(k))
              : (Reflect.get(target, key, receiver) as unknown),
        });
        return { flaky, reads: () => reads };
      };
      const twice = timingOut(2);
      expect(JSON.parse((await metadataEntry(twice.flaky))!.string())).toEqual(stored);
      expect(twice.reads()).toBe(3);
      const always = timingOut(3);
      await expect(metadataEntry(always.flaky)).rejects.toBeInstanceOf(TimeoutError);
      expect(always.reads()).toBe(3);
      // any other error is not a reason to read again
      const denied = timingOut(1, () => new Error('permissions violation'));
      await expect(metadataEntry(denied.flaky)).rejects.toThrow('permissions violation');
      expect(denied.reads()).toBe(1);
    } finally {
      await nc.close();
      await srv.stop();
    }
  });

  it('a bucket whose creation lost the race to another process is found made; a refusal with no bucket made is an error', async () => {
    const srv = await startNatsServer();
    const [nc, other] = await Promise.all([connect({ servers: srv.url }), connect({ servers: srv.url })]);
    try {
      const jsm = await jetstreamManager(nc);
      const kvm = new Kvm(nc);
      // the other process's create lands first, and this one's is refused as nats-server 2.9 refuses the loser
      let asked = 0;
      const losing = async () => {
        if (++asked === 1) {
          await new Kvm(other).create('race', { history: 1 });
          throw new Error('subjects overlap with an existing stream');
        }
        return kvm.create('race', { history: 1 });
      };
      const kv = await createBucket(jsm, 'KV_race', losing);
      expect(asked).toBe(2);
      await kv.put('k', 'v');
      expect((await (await new Kvm(other).open('race')).get('k'))?.string()).toBe('v');
      // refused, and nothing made: the refusal is the answer, not asked again
      let refusals = 0;
      const refused = () => {
        refusals++;
        return Promise.reject(new Error('insufficient resources'));
      };
      await expect(createBucket(jsm, 'KV_never', refused)).rejects.toThrow('insufficient resources');
      expect(refusals).toBe(1);
    } finally {
      await Promise.all([nc.close(), other.close()]);
      await srv.stop();
    }
  });

  it('two processes provisioning at once agree on one metadata', async () => {
    const srv = await startNatsServer();
    const conns = await Promise.all([connect({ servers: srv.url }), connect({ servers: srv.url })]);
    try {
      // neither asks for a count: both propose the default, exactly one create wins
      const [a, b] = await Promise.all(conns.map((nc) => provision(nc)));
      expect(a).toEqual(b);
      expect(a.partitions).toBe(DEFAULT_PARTITIONS);
      // the loser must have read the winner's value (same createdAt), which is what is stored
      expect(await readClusterMetadata(conns[0])).toEqual(a);
      const kv = await new Kvm(conns[0]).open(META_BUCKET);
      expect((await kv.get(META_KEY))?.revision).toBe(1);
    } finally {
      await Promise.all(conns.map((nc) => nc.close()));
      await srv.stop();
    }
  });
});
