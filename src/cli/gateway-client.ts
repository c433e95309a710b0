import { CommandError } from './errors.ts';

/** Where a command sends its requests, and where it writes its answer. */
export interface Context {
  gateway: string;
  token: string | undefined;
  fetch: typeof globalThis.fetch;
  out(text: string): void;
  /** Progress and notes (stderr); `errIsTTY`: it is a terminal (a progress bar redrawn in place). */
  err(text: string): void;
  errIsTTY: boolean;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'DELETE';
  body?: string;
  timeoutMs?: number;
}

/** describeProfile's shape (src/reference/profile.ts). */
export interface ProfileDescription {
  id: string;
  model: string;
  version: string | null;
  source: 'file' | 'window' | 'auto';
  createdAt: number;
  from?: number | null;
  to?: number | null;
  count: number;
  features?: Record<string, 'numeric' | 'categorical'>;
  output?: 'numeric' | 'categorical' | null;
  accuracy?: number | null;
  errorRate?: number | null;
  latencyP99?: number | null;
}

/** POST /v1/baselines' answer: the profile, the problems of its checks, and the profile now in force. */
export interface UploadAnswer extends ProfileDescription {
  dryRun: boolean;
  problems: string[];
  inForce: { id: string; model: string; version: string | null } | null;
}

function errorCode(error: unknown): string | undefined {
  // undici wraps the socket error in `cause`, sometimes as an AggregateError (one per address).
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.length > 0) {
      const codes = inner.map(errorCode).filter((c) => c !== undefined);
      if (codes.length > 0) return codes[0];
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** One JSON request to the gateway's REST API; every failure becomes a CommandError that says what to do. */
export async function request<T>(ctx: Context, path: string, opts: RequestOptions): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (ctx.token !== undefined) headers.authorization = `Bearer ${ctx.token}`;
  const url = `${ctx.gateway}${path}`;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let response: Response;
  try {
    response = await ctx.fetch(url, { method: opts.method, headers, body: opts.body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ECONNREFUSED') throw new CommandError(`cannot reach the gateway at ${ctx.gateway}: is \`npm start\` running?`);
    if ((error as Error).name === 'TimeoutError') throw new CommandError(`the gateway at ${ctx.gateway} did not answer ${opts.method} ${path} within ${timeoutMs / 1000} s`);
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new CommandError(`cannot reach the gateway at ${ctx.gateway}: ${code ?? cause ?? (error as Error).message}`);
  }
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page?): reported below with a snippet.
  }
  if (!response.ok) {
    const message = (body as { message?: unknown } | undefined)?.message;
    const detail = typeof message === 'string' ? message : text.slice(0, 200) || '(no body)';
    throw new CommandError(`gateway answered ${response.status} ${response.statusText || ''}`.trimEnd() + `: ${detail}`);
  }
  if (body === undefined) throw new CommandError(`gateway answered ${opts.method} ${path} with ${response.status} but no JSON body`);
  return body as T;
}
