/**
 * A private nats-server for one test file: free loopback port, its own storage dir, killed and
 * removed by stop(). Never the shared server on 4222.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

export interface LocalNats {
  url: string;
  /** A connection opened once the server accepted it and JetStream answered. */
  nc: NatsConnection;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startLocalNats(timeoutMs = 15_000): Promise<LocalNats> {
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const storeDir = mkdtempSync(path.join(os.tmpdir(), 'driftwatch-client-test-'));
  const server = spawn('/usr/sbin/nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(storeDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const nc = await connect({ servers: url, reconnect: false, timeout: 1000 });
      await (await jetstreamManager(nc)).getAccountInfo();
      return {
        url,
        nc,
        stop: async () => {
          await nc.close();
          await stop();
        },
      };
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`nats-server at ${url} did not accept connections within ${timeoutMs} ms`, { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
