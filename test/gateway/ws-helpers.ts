/** WebSocket test client helpers. */
import { WebSocket } from 'ws';
import type { FastifyInstance } from 'fastify';

export interface Frame {
  type: string;
  model?: string;
  window?: string;
  message?: string;
  metrics?: { count: number; window: string; version: string | null } | null;
  alerts?: unknown[];
  alert?: { rule: string; at: number; message: string; model: string; id: string };
  seq?: number;
  code?: string;
  drift?: { reference: string | null; features: Record<string, unknown> };
  cluster?: unknown;
  models?: string[];
  topics?: string[];
  lastSeq?: number;
  to?: number;
  replayed?: number;
  complete?: boolean;
  id?: string | number;
  receivedAt: number;
}

export function baseUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not listening on TCP');
  return `ws://127.0.0.1:${address.port}`;
}

/** A connected client that records every frame and can wait for one. */
export class TestClient {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason: string | undefined;
  readonly closed: Promise<number>;
  private waiters: Array<() => void> = [];

  /** Answer the server's JSON pings (as every client must); off to test the heartbeat. */
  autoPong = true;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = { ...(JSON.parse(data.toString()) as Omit<Frame, 'receivedAt'>), receivedAt: Date.now() };
      if (frame.type === 'ping' && this.autoPong && ws.readyState === WebSocket.OPEN) ws.send('{"type":"pong"}');
      this.frames.push(frame);
      for (const w of this.waiters) w();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve(code);
      }),
    );
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    const ws = new WebSocket(url, { headers });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  ofType(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Wait until `predicate` holds on the recorded frames. */
  async until(predicate: (frames: Frame[]) => boolean, timeoutMs = 3000, what = 'frames'): Promise<void> {
    if (predicate(this.frames)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.map((f) => f.type))}`));
      }, timeoutMs);
      const check = (): void => {
        if (!predicate(this.frames)) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  async untilCount(type: string, n: number, timeoutMs = 3000): Promise<Frame[]> {
    await this.until((fs) => fs.filter((f) => f.type === type).length >= n, timeoutMs, `${n} ${type} frame(s)`);
    return this.ofType(type);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Resolve with the HTTP status of a refused upgrade (or reject when it was accepted). */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => undefined);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
