/**
 * Integration-test NATS servers: each test starts its own nats-server on a free loopback port
 * with its own temp storage, never the shared server on 4222.
 *
 *   const srv = await startNatsServer();            // srv.url, srv.port, srv.storeDir
 *   await srv.restart({ signal: 'SIGKILL' });       // NATS crash + restart, same port and storage
 *   await srv.kill('SIGKILL'); ...; await srv.restart();   // crash, stay down a while, come back
 *   await srv.stop();                               // stop and remove the temp dir
 *
 *   const cluster = await startNatsCluster(3);      // three handles, R3-capable JetStream cluster
 *   cluster.urls / cluster.url (comma-joined) / await cluster.stop()
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  findNatsServerBinary,
  isAddressInUse,
  pickFreePort,
  pickFreePorts,
  spawnNatsServer,
  stopNatsProcess,
  waitForNatsReady,
  type SpawnedNatsServer,
} from '../../src/cluster/nats-process.ts';

export type StopSignal = 'SIGTERM' | 'SIGKILL' | 'SIGINT';

export interface NatsClusterMemberOptions {
  /** Cluster name shared by all members. */
  name: string;
  /** This server's unique server_name (JetStream clustering needs it). */
  serverName: string;
  /** Route listen port on 127.0.0.1. */
  clusterPort: number;
  /** Route ports of all members (own one included is fine). */
  routePorts: number[];
}

export interface NatsServerOptions {
  /** Client port; picked free when unset. */
  port?: number;
  /** JetStream store dir; a temp dir under os.tmpdir() when unset. */
  storeDir?: string;
  /** Extra nats-server arguments, e.g. ['--auth', 'secret']. */
  args?: string[];
  /** Keep the store dir on stop (a caller-supplied storeDir is never removed). */
  keep?: boolean;
  /** JetStream on (default true). */
  jetstream?: boolean;
  /** Join a cluster (written to a config file in the temp dir). */
  cluster?: NatsClusterMemberOptions;
  /** Credentials the readiness probe needs when args turn auth on. */
  auth?: { token?: string; user?: string; pass?: string };
  /** Forward server log lines (default: discarded, the last lines appear in startup errors). */
  onLog?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly serverName: string | undefined;
  /** pid of the current process (changes on restart). */
  readonly pid: number;
  isRunning(): boolean;
  /** Stops the process (SIGTERM by default, SIGKILL for a crash), waits for exit, removes temp dirs. */
  stop(signal?: StopSignal): Promise<void>;
  /** Stops the process but keeps its storage, so restart() can bring it back. */
  kill(signal?: StopSignal): Promise<void>;
  /**
   * Stops (if running, with opts.signal, default SIGTERM) and starts again on the same port with
   * the same storage; resolves when it serves again (JetStream ready unless opts.waitJetStream=false).
   */
  restart(opts?: { signal?: StopSignal; waitJetStream?: boolean }): Promise<void>;
  /** The last lines the server logged. */
  logTail(): string;
}

interface ServerPlan {
  binary: string;
  port: number;
  storeDir: string;
  workDir: string;
  removeOnStop: string[];
  args: string[];
}

function clusterConfig(port: number, storeDir: string, c: NatsClusterMemberOptions): string {
  const routes = c.routePorts.map((p) => `    nats-route://127.0.0.1:${p}`).join('\n');
  return [
    `server_name: ${JSON.stringify(c.serverName)}`,
    `listen: "127.0.0.1:${port}"`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(storeDir)}`,
    `}`,
    `cluster {`,
    `  name: ${JSON.stringify(c.name)}`,
    `  listen: "127.0.0.1:${c.clusterPort}"`,
    `  routes: [`,
    routes,
    `  ]`,
    `}`,
    '',
  ].join('\n');
}

function planServer(opts: NatsServerOptions, port: number): ServerPlan {
  const binary = findNatsServerBinary();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'driftwatch-nats-'));
  const removeOnStop: string[] = [];
  const storeDir = opts.storeDir ?? path.join(workDir, 'store');
  if (!opts.keep) removeOnStop.push(workDir);
  const args: string[] = [];
  if (opts.cluster) {
    const confFile = path.join(workDir, 'nats.conf');
    writeFileSync(confFile, clusterConfig(port, storeDir, opts.cluster));
    args.push('-c', confFile);
  } else {
    args.push('-a', '127.0.0.1', '-p', String(port));
    if (opts.jetstream !== false) args.push('-js', '-sd', storeDir);
  }
  args.push(...(opts.args ?? []));
  return { binary, port, storeDir, workDir, removeOnStop, args };
}

async function launch(
  plan: ServerPlan,
  opts: NatsServerOptions,
  waitJetStream: boolean,
): Promise<SpawnedNatsServer> {
  const spawned = spawnNatsServer(plan.binary, plan.args, opts.onLog);
  try {
    await waitForNatsReady(`nats://127.0.0.1:${plan.port}`, {
      timeoutMs: opts.readyTimeoutMs ?? 20_000,
      jetstream: waitJetStream && opts.jetstream !== false,
      exited: spawned.exited,
      logTail: spawned.logTail,
      ...opts.auth,
    });
  } catch (err) {
    await stopNatsProcess(spawned, 'SIGKILL');
    throw Object.assign(err as Error, { logTail: spawned.logTail() });
  }
  return spawned;
}

function makeHandle(plan: ServerPlan, opts: NatsServerOptions, first: SpawnedNatsServer): NatsServerHandle {
  let current: SpawnedNatsServer | undefined = first;
  const running = () =>
    current !== undefined && current.child.exitCode === null && current.child.signalCode === null;
  const kill = async (signal: StopSignal = 'SIGTERM') => {
    if (current) await stopNatsProcess(current, signal);
  };
  return {
    url: `nats://127.0.0.1:${plan.port}`,
    port: plan.port,
    storeDir: plan.storeDir,
    serverName: opts.cluster?.serverName,
    get pid() {
      return current?.child.pid ?? -1;
    },
    isRunning: running,
    kill,
    async stop(signal: StopSignal = 'SIGTERM') {
      await kill(signal);
      for (const dir of plan.removeOnStop) rmSync(dir, { recursive: true, force: true });
    },
    async restart(restartOpts = {}) {
      if (running()) await kill(restartOpts.signal ?? 'SIGTERM');
      current = undefined;
      current = await launch(plan, opts, restartOpts.waitJetStream ?? true);
    },
    logTail: () => current?.logTail() ?? '',
  };
}

/** Starts one nats-server (JetStream on) on a free loopback port; resolves once it serves. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  // The free port may be grabbed by another test process before the server binds: retry then.
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await pickFreePort());
    const plan = planServer(opts, port);
    try {
      const spawned = await launch(plan, opts, !opts.cluster);
      return makeHandle(plan, opts, spawned);
    } catch (err) {
      for (const dir of plan.removeOnStop) rmSync(dir, { recursive: true, force: true });
      const tail = (err as { logTail?: string }).logTail ?? '';
      if (opts.port === undefined && attempt < 5 && isAddressInUse(tail)) continue;
      throw err;
    }
  }
}

export type NatsCluster = NatsServerHandle[] & {
  /** Client URLs of all members. */
  urls: string[];
  /** Comma-joined client URLs (what NATS_URL takes). */
  url: string;
  /** Stops every member (in parallel) and removes their temp dirs. */
  stop(signal?: StopSignal): Promise<void>;
};

/**
 * Starts `size` servers clustered over routes on loopback, and resolves once the JetStream meta
 * group has a leader and all peers (an R=size test stream can be created and deleted).
 */
export async function startNatsCluster(
  size = 3,
  opts: { name?: string; args?: string[]; onLog?: (line: string) => void; readyTimeoutMs?: number } = {},
): Promise<NatsCluster> {
  const name = opts.name ?? 'driftwatch-test';
  // Another test process may grab a picked port before a member binds it: start over then.
  for (let attempt = 1; ; attempt++) {
    const ports = await pickFreePorts(2 * size);
    const clientPorts = ports.slice(0, size);
    const routePorts = ports.slice(size);
    const started = await Promise.allSettled(
      clientPorts.map((port, i) =>
        startNatsServer({
          port,
          args: opts.args,
          onLog: opts.onLog,
          readyTimeoutMs: opts.readyTimeoutMs,
          cluster: { name, serverName: `n${i + 1}`, clusterPort: routePorts[i], routePorts },
        }),
      ),
    );
    const handles = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await Promise.all(handles.map((h) => h.stop('SIGKILL')));
      const tail = (failure.reason as { logTail?: string }).logTail ?? '';
      if (attempt < 5 && isAddressInUse(tail)) continue;
      throw failure.reason;
    }
    return finishCluster(handles, size, opts.readyTimeoutMs ?? 25_000);
  }
}

async function finishCluster(handles: NatsServerHandle[], size: number, readyTimeoutMs: number): Promise<NatsCluster> {
  const urls = handles.map((h) => h.url);
  const cluster: NatsCluster = Object.assign(handles, {
    urls,
    url: urls.join(','),
    stop: async (signal?: StopSignal) => {
      await Promise.all(handles.map((h) => h.stop(signal)));
    },
  });
  try {
    await waitForClusterJetStream(urls, size, readyTimeoutMs);
  } catch (err) {
    const logs = handles.map((h) => `--- ${h.serverName}\n${h.logTail()}`).join('\n');
    await cluster.stop('SIGKILL');
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return cluster;
}

/** Retries creating (and deleting) an R=replicas stream until the meta leader accepts it. */
export async function waitForClusterJetStream(urls: string[], replicas: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers: urls, timeout: 2_000, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  let lastError: unknown;
  try {
    // checkAPI off: without a meta leader the API check itself would time out and throw
    const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
    // One fixed name and config: a retry after a lost reply then finds the same stream again.
    const probe = `READY_PROBE_${process.pid}_${Date.now()}`;
    const subject = `ready.probe.${probe}`;
    while (Date.now() < deadline) {
      try {
        await jsm.streams.add({ name: probe, subjects: [subject], num_replicas: replicas });
        await jsm.streams.delete(probe);
        return;
      } catch (err) {
        lastError = err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await nc.close();
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`JetStream cluster was not ready after ${timeoutMs} ms (last error: ${reason})`);
}
