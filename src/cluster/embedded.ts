/**
 * The embedded NATS server of `npm start` when no NATS_URL is configured: nats-server as a child
 * process on a free loopback port, JetStream on, storage under storeDir. Loopback only, so an
 * all-in-one demo never exposes an unauthenticated server to the network.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  findNatsServerBinary,
  isAddressInUse,
  pickFreePort,
  spawnNatsServer,
  stopNatsProcess,
  waitForNatsReady,
  type FindNatsServerOptions,
  type SpawnedNatsServer,
} from './nats-process.ts';
import { CREDENTIALS_FILE, embeddedCredentials, writeServerAuthConfig } from './embedded-auth.ts';
import type { EmbeddedCredentials } from './embedded-auth.ts';

export type EmbeddedNatsLogger = Pick<Logger, 'debug' | 'info' | 'warn'>;

export interface EmbeddedNatsOptions {
  /** JetStream storage directory (created if missing), e.g. './data/nats'. */
  storeDir: string;
  logger: EmbeddedNatsLogger;
  /** Client port on 127.0.0.1; 0 or unset picks a free one. */
  port?: number;
  /** Extra nats-server arguments. */
  args?: string[];
  /** How the binary is located (env, fallback paths); injectable for tests. */
  find?: FindNatsServerOptions;
  /** How long to wait for the server to serve JetStream (default 20 s). */
  readyTimeoutMs?: number;
  /**
   * Require the generated credentials of the data directory (default true): closed by default.
   * false leaves the loopback server open to every local process.
   */
  authenticate?: boolean;
}

export interface EmbeddedNats {
  url: string;
  /** The generated users (null when started without authentication). */
  credentials: EmbeddedCredentials | null;
  /** Where they are kept, for local publishers to read. */
  credentialsFile: string | null;
  port: number;
  pid: number;
  /** SIGTERM, wait for exit. Safe to call twice. */
  stop(): Promise<void>;
}

const PID_FILE = 'nats-server.pid';

/**
 * If a previous run was killed with -9, its nats-server child (which cannot notice) may still run
 * on this store dir. Two servers on one store dir corrupt it, so stop the orphan first. Only a
 * process whose command line is nats-server with this store dir is touched (Linux /proc check).
 */
async function stopOrphanedServer(storeDir: string, logger: EmbeddedNatsLogger): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(storeDir, PID_FILE), 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return; // not running (or not Linux): nothing to do
  }
  if (!cmdline.includes('nats-server') || !cmdline.includes(path.resolve(storeDir))) return;
  logger.warn({ pid, storeDir }, 'stopping an orphaned embedded nats-server left by a previous run');
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function startEmbeddedNats(opts: EmbeddedNatsOptions): Promise<EmbeddedNats> {
  const binary = findNatsServerBinary(opts.find);
  const storeDir = path.resolve(opts.storeDir);
  mkdirSync(storeDir, { recursive: true });
  await stopOrphanedServer(storeDir, opts.logger);
  const credentials = opts.authenticate === false ? null : embeddedCredentials(storeDir);
  const authArgs = credentials === null ? [] : ['-c', writeServerAuthConfig(storeDir, credentials)];

  const fixedPort = opts.port !== undefined && opts.port !== 0;
  // A picked port can be taken by someone else before nats-server binds it; retry a few times.
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ? (opts.port as number) : await pickFreePort();
    const url = `nats://127.0.0.1:${port}`;
    const args = [
      '-a', '127.0.0.1',
      '-p', String(port),
      '-js',
      '-sd', storeDir,
      '-P', path.join(storeDir, PID_FILE),
      ...authArgs,
      ...(opts.args ?? []),
    ];
    const spawned: SpawnedNatsServer = spawnNatsServer(binary, args, (line) => opts.logger.debug({ component: 'nats-server' }, line), {
      ownProcessGroup: true,
    });
    try {
      await waitForNatsReady(url, {
        timeoutMs: opts.readyTimeoutMs ?? 20_000,
        exited: spawned.exited,
        logTail: spawned.logTail,
        ...(credentials === null ? {} : { user: credentials.driftwatch.user, pass: credentials.driftwatch.password }),
      });
    } catch (err) {
      await stopNatsProcess(spawned, 'SIGKILL');
      if (!fixedPort && attempt < 5 && isAddressInUse(spawned.logTail())) continue;
      throw err;
    }
    const pid = spawned.child.pid ?? -1;
    opts.logger.info({ url, storeDir, pid, binary }, 'embedded nats-server started');
    let stopping: Promise<void> | undefined;
    return {
      url,
      credentials,
      credentialsFile: credentials === null ? null : path.join(storeDir, CREDENTIALS_FILE),
      port,
      pid,
      stop: () => {
        stopping ??= stopNatsProcess(spawned, 'SIGTERM').then(() => {
          rmSync(path.join(storeDir, PID_FILE), { force: true });
          opts.logger.info({ url }, 'embedded nats-server stopped');
        });
        return stopping;
      },
    };
  }
}
