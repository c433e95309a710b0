/**
 * One way to connect to NATS for every process: URL list, token / user+password / creds / nkey
 * auth, TLS files, and reconnect forever (a worker outlives NATS restarts and leader moves).
 * Files are read up front so a wrong path fails at start with the path in the message, not as
 * an opaque error deep inside the transport.
 */
import { readFileSync } from 'node:fs';
// transport-node re-exports nats-core, which is not a direct dependency of this package
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';

export interface NatsConnectOptions {
  /** One URL or a comma-separated list, e.g. 'nats://nats1:4222,nats://nats2:4222'. */
  url: string;
  /** Connection name shown in server monitoring. */
  name?: string;
  token?: string;
  user?: string;
  pass?: string;
  /** A .creds file (user JWT + nkey seed), as produced by `nsc`. */
  credsFile?: string;
  /** A file holding an nkey user seed ('SU...'). */
  nkeySeedFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Wait between reconnect attempts (default 1000 ms, plus jitter). */
  reconnectTimeWaitMs?: number;
  /** Keep retrying when the very first connect fails instead of rejecting (default false). */
  waitOnFirstConnect?: boolean;
  /** Connect timeout per attempt (default 5000 ms). */
  timeoutMs?: number;
}

/** A configuration problem found before connecting (bad file, conflicting auth options). */
export class NatsConfigError extends Error {
  override readonly name = 'NatsConfigError';
}

function readConfigFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new NatsConfigError(`cannot read the NATS ${what} file "${file}": ${reason}`);
  }
}

export function parseServerList(url: string): string[] {
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new NatsConfigError('NATS url is empty: expected e.g. nats://127.0.0.1:4222');
  for (const server of servers) {
    if (!/^(nats|tls|ws|wss):\/\//.test(server) && !/^[A-Za-z0-9.[\]:_-]+$/.test(server)) {
      throw new NatsConfigError(
        `NATS url "${server}" is not a server address: expected nats://host:port (comma-separated for several)`,
      );
    }
  }
  return servers;
}

/** Translates driftwatch options into client options; throws NatsConfigError on bad input. */
export function buildConnectionOptions(opts: NatsConnectOptions): NodeConnectionOptions {
  const servers = parseServerList(opts.url);
  const authKinds = [
    opts.token !== undefined && opts.token !== '' ? 'token' : null,
    opts.user !== undefined && opts.user !== '' ? 'user/password' : null,
    opts.credsFile ? 'credentials file' : null,
    opts.nkeySeedFile ? 'nkey seed file' : null,
  ].filter((k): k is string => k !== null);
  if (authKinds.length > 1) {
    throw new NatsConfigError(
      `NATS authentication is configured more than once (${authKinds.join(', ')}): choose one`,
    );
  }
  if (opts.pass !== undefined && opts.pass !== '' && !opts.user) {
    throw new NatsConfigError('a NATS password is set without a user: set the user too');
  }

  const co: NodeConnectionOptions = {
    servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1_000,
    reconnectJitter: 250,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
    timeout: opts.timeoutMs ?? 5_000,
    pingInterval: 20_000,
    maxPingOut: 3,
    // the client otherwise builds an Error, stack trace and all, for every request and every
    // request timer, even those that succeed (nats-io/nats.deno#614): pane publishes, KV and
    // checkpoint writes pay for it; failures keep their message and cause without the caller's stack
    noAsyncTraces: true,
  };
  if (opts.token) co.token = opts.token;
  if (opts.user) {
    co.user = opts.user;
    co.pass = opts.pass;
  }
  if (opts.credsFile) {
    const creds = readConfigFile(opts.credsFile, 'credentials');
    if (!creds.includes('BEGIN NATS USER JWT') || !creds.includes('BEGIN USER NKEY SEED')) {
      throw new NatsConfigError(
        `the NATS credentials file "${opts.credsFile}" is not a .creds file: expected a user JWT and an nkey seed block`,
      );
    }
    co.authenticator = credsAuthenticator(new TextEncoder().encode(creds));
  }
  if (opts.nkeySeedFile) {
    const seed = readConfigFile(opts.nkeySeedFile, 'nkey seed').trim();
    if (!/^SU[A-Z2-7]+$/.test(seed)) {
      throw new NatsConfigError(
        `the NATS nkey seed file "${opts.nkeySeedFile}" does not hold a user seed: expected one line starting with "SU"`,
      );
    }
    co.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  const tls = opts.tls;
  if (tls && (tls.caFile || tls.certFile || tls.keyFile)) {
    if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
      throw new NatsConfigError('NATS TLS client authentication needs both a certificate file and a key file');
    }
    co.tls = {
      ca: tls.caFile ? readConfigFile(tls.caFile, 'TLS CA') : undefined,
      cert: tls.certFile ? readConfigFile(tls.certFile, 'TLS certificate') : undefined,
      key: tls.keyFile ? readConfigFile(tls.keyFile, 'TLS key') : undefined,
    };
  }
  return co;
}

/** Connects; a failed first connect rejects with the servers tried and the reason. */
export async function connectNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  const co = buildConnectionOptions(opts);
  try {
    return await connect(co);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const hint = /authorization|authentication/i.test(reason)
      ? ' (check NATS_TOKEN / NATS_USER+NATS_PASSWORD / NATS_CREDS / NATS_NKEY_SEED)'
      : '';
    throw new Error(`could not connect to NATS at ${(co.servers as string[]).join(',')}: ${reason}${hint}`, {
      cause: err,
    });
  }
}
