import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, headers } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import { startNatsServer } from '../helpers/nats-server.ts';
import type { NatsServerHandle } from '../helpers/nats-server.ts';
import { declaredContentType } from '../../src/partition/content-type.ts';

describe('declaredContentType (messages received from a real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await (await jetstreamManager(nc)).streams.add({ name: 'CT', subjects: ['ct.>'] });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  /** Publishes one message per header set (none: no header block) and reads them all back, in order. */
  async function received(headerSets: ReadonlyArray<Record<string, string> | null>): Promise<JsMsg[]> {
    const js = jetstream(nc);
    const first = (await (await jetstreamManager(nc)).streams.info('CT')).state.last_seq + 1;
    for (const set of headerSets) {
      let h;
      if (set !== null) {
        h = headers();
        for (const [name, value] of Object.entries(set)) h.set(name, value);
      }
      await js.publish('ct.m', Uint8Array.of(0x80), h === undefined ? undefined : { headers: h });
    }
    const consumer = await js.consumers.get('CT', { opt_start_seq: first, deliver_policy: 'by_start_sequence' as never });
    const out: JsMsg[] = [];
    for (let i = 0; i < headerSets.length; i++) {
      const msg = await consumer.next({ expires: 5000 });
      if (msg === null) throw new Error(`message ${i} did not come`);
      out.push(msg);
    }
    return out;
  }

  it('finds the content type whatever the case of its name, and none where it is absent', async () => {
    const msgs = await received([
      null,
      { 'Nats-Msg-Id': 'fraud:p1:pred' },
      { 'content-type': 'application/json' },
      { 'Content-Type': 'application/msgpack' },
      { 'Nats-Msg-Id': 'fraud:p2:pred', 'CONTENT-TYPE': 'application/json; charset=utf-8' },
      // the name as part of another header's value is not a content type
      { 'X-Note': 'content-type is not set here' },
      // nor a name that merely starts like it
      { 'Content_Type': 'application/json' },
    ]);
    expect(msgs.map((m) => declaredContentType(m))).toEqual([
      undefined,
      undefined,
      'application/json',
      'application/msgpack',
      'application/json; charset=utf-8',
      undefined,
      undefined,
    ]);
    // with this client version, a header block without the name is not decoded at all (the
    // client decodes lazily, on the first read of msg.headers): the worker's per-message saving
    const client = (msg: JsMsg): { _headers?: unknown } => (msg as unknown as { msg: { _headers?: unknown } }).msg;
    expect(client(msgs[1])._headers).toBeUndefined();
    expect(client(msgs[2])._headers).toBeDefined();
  });

  it('reads the headers through the client API where the message does not keep its bytes as expected', async () => {
    const [msg] = await received([{ 'Content-Type': 'application/json' }]);
    const opaque = { headers: msg.headers } as unknown as JsMsg;
    expect(declaredContentType(opaque)).toBe('application/json');
    expect(declaredContentType({ headers: undefined } as unknown as JsMsg)).toBeUndefined();
  });
});
