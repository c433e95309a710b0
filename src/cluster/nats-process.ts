/**
 * Running nats-server as a child process: finding the binary, picking a free loopback port,
 * waiting until it serves, and stopping it. Shared by the embedded server of `npm start`
 * (src/cluster/embedded.ts) and by the integration-test helper (test/helpers/nats-server.ts),
 * so both behave the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

export const DEFAULT_NATS_SERVER_PATHS: readonly string[] = ['/usr/sbin/nats-server'];

const INSTALL_HINT =
  'Install it: `apt-get install -y nats-server` (Debian/Ubuntu), `brew install nats-server` (macOS), ' +
  'or set NATS_SERVER_BIN, or set NATS_URL to use an existing server.';

/** Thrown when no nats-server binary can be found; the message says how to install one. */
export class NatsServerNotFoundError extends Error {
  override readonly name = 'NatsServerNotFoundError';
}

export interface FindNatsServerOptions {
  /** Environment to read NATS_SERVER_BIN and PATH from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Absolute paths tried after PATH (default: /usr/sbin/nats-server, where Debian puts it). */
  fallbackPaths?: readonly string[];
  /** Injectable for tests: whether a path is an executable regular file. */
  isExecutable?: (file: string) => boolean;
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Locates nats-server: NATS_SERVER_BIN if set (an explicit setting that is wrong is an error,
 * not silently replaced by another binary), else the first `nats-server` on PATH, else the
 * fallback paths.
 */
export function findNatsServerBinary(opts: FindNatsServerOptions = {}): string {
  const env = opts.env ?? process.env;
  const isExecutable = opts.isExecutable ?? isExecutableFile;
  const fallbackPaths = opts.fallbackPaths ?? DEFAULT_NATS_SERVER_PATHS;
  const explicit = env.NATS_SERVER_BIN;
  if (explicit !== undefined && explicit !== '') {
    if (isExecutable(explicit)) return explicit;
    throw new NatsServerNotFoundError(
      `NATS_SERVER_BIN is set to "${explicit}", which is not an executable file. ` +
        `Point NATS_SERVER_BIN at the nats-server binary, or unset it to use nats-server from PATH. ` +
        INSTALL_HINT,
    );
  }
  const exe = process.platform === 'win32' ? 'nats-server.exe' : 'nats-server';
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, exe);
    if (isExecutable(candidate)) return candidate;
  }
  for (const candidate of fallbackPaths) {
    if (isExecutable(candidate)) return candidate;
  }
  const where = fallbackPaths.length > 0 ? ` or at ${fallbackPaths.join(' or ')}` : '';
  throw new NatsServerNotFoundError(`nats-server was not found on PATH${where}. ${INSTALL_HINT}`);
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it). */
export async function pickFreePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await pickFreePorts(1, host);
  return port;
}

/**
 * `count` distinct free ports. All listeners stay open until every port is chosen, so the OS
 * cannot hand out the same port twice (it may, if each were closed before asking for the next).
 */
export async function pickFreePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      servers.push(srv);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(0, host, () => {
            const addr = srv.address();
            if (addr === null || typeof addr === 'string') reject(new Error('could not determine a free port'));
            else resolve(addr.port);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  }
}

export interface SpawnedNatsServer {
  child: ChildProcess;
  /** Resolves with the exit code/signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the server logged (for error messages). */
  logTail(): string;
}

const LOG_TAIL_LINES = 40;

/**
 * Spawns nats-server with the given arguments. Its log (stderr and stdout) is split into lines,
 * passed to onLogLine and kept as a short tail. The child is SIGKILLed if this process exits
 * first, so a crashed test or app does not leave servers behind holding ports and store dirs.
 */
export function spawnNatsServer(
  binary: string,
  args: readonly string[],
  onLogLine?: (line: string) => void,
  options: { ownProcessGroup?: boolean } = {},
): SpawnedNatsServer {
  // In its own process group the server does not get the terminal's Ctrl-C: the parent drains its
  // clients first (flush, checkpoint) and stops the server last.
  const child = spawn(binary, [...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownProcessGroup === true });
  const tail: string[] = [];
  const handleChunk = (buffered: { rest: string }) => (chunk: Buffer) => {
    const text = buffered.rest + chunk.toString('utf8');
    const lines = text.split('\n');
    buffered.rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') continue;
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
      onLogLine?.(line);
    }
  };
  child.stdout?.on('data', handleChunk({ rest: '' }));
  child.stderr?.on('data', handleChunk({ rest: '' }));

  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      process.removeListener('exit', killOnExit);
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      tail.push(`spawn error: ${err.message}`);
      process.removeListener('exit', killOnExit);
      resolve({ code: null, signal: null });
    });
  });
  return { child, exited, logTail: () => tail.join('\n') };
}

export interface WaitReadyOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number;
  /** Also wait until the JetStream API answers (default true). */
  jetstream?: boolean;
  /** Connection options needed to get in (e.g. a token). */
  token?: string;
  user?: string;
  pass?: string;
  /** Resolves when the server process is gone: waiting stops at once with the server's log. */
  exited?: Promise<unknown>;
  logTail?: () => string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls until the server accepts a NATS connection and (optionally) the JetStream API answers
 * getAccountInfo. In a cluster JetStream only answers once a meta leader is elected.
 */
export async function waitForNatsReady(url: string, opts: WaitReadyOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let exitedEarly = false;
  void opts.exited?.then(() => {
    exitedEarly = true;
  });
  let lastError: unknown;
  let delay = 20;
  while (Date.now() < deadline) {
    if (exitedEarly) {
      throw new Error(`nats-server exited before it was ready at ${url}.\n${opts.logTail?.() ?? ''}`);
    }
    try {
      const nc = await connect({
        servers: url,
        reconnect: false,
        timeout: 1_000,
        token: opts.token,
        user: opts.user,
        pass: opts.pass,
      });
      try {
        if (opts.jetstream !== false) {
          const jsm = await jetstreamManager(nc, { timeout: 2_000 });
          await jsm.getAccountInfo();
        }
        return;
      } finally {
        await nc.close();
      }
    } catch (err) {
      lastError = err;
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 250);
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(
    `nats-server at ${url} was not ready after ${timeoutMs} ms (last error: ${reason}).\n${opts.logTail?.() ?? ''}`,
  );
}

/**
 * Sends `signal` and waits for the process to exit; escalates to SIGKILL if a SIGTERM is not
 * honoured within graceMs.
 */
export async function stopNatsProcess(
  spawned: SpawnedNatsServer,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<void> {
  const { child } = spawned;
  if (child.exitCode !== null || child.signalCode !== null) {
    await spawned.exited;
    return;
  }
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const escalate = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, graceMs);
  });
  await Promise.race([spawned.exited, escalate]);
  clearTimeout(timer);
  await spawned.exited;
}

/** True when the exit looks like "port already taken" (lost the race after pickFreePort). */
export function isAddressInUse(logTail: string): boolean {
  return /address already in use/i.test(logTail);
}
