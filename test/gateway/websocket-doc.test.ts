/** docs/websocket.md is the protocol's reference: its examples must parse and cover every message. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, parseClientMessage } from '../../src/gateway/live-protocol.ts';

const doc = readFileSync(new URL('../../docs/websocket.md', import.meta.url), 'utf8');

/** Every JSON example: the lines of ```json blocks, an object per line or across lines. */
function examples(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const [, block] of doc.matchAll(/```json\n([\s\S]*?)```/g)) {
    let pending = '';
    for (const line of block.split('\n')) {
      pending += `${line}\n`;
      try {
        out.push(JSON.parse(pending) as Record<string, unknown>);
        pending = '';
      } catch {
        // an object spread over several lines: keep reading
      }
    }
    expect(pending.trim(), `an example that is not JSON:\n${pending}`).toBe('');
  }
  return out;
}

describe('docs/websocket.md', () => {
  it('has a parseable example of every client and server message type', () => {
    const types = new Set(examples().map((e) => e.type));
    const client = ['subscribe', 'unsubscribe', 'ping', 'pong'];
    const server = ['subscribed', 'snapshot', 'metrics', 'drift', 'alert', 'resumed', 'cluster', 'unsubscribed', 'ping', 'pong', 'error'];
    for (const type of [...client, ...server]) expect(types, `an example of "${type}"`).toContain(type);
  });

  it('its client examples are accepted by the gateway', () => {
    const ctx = { windows: ['1m', '5m', '1h'], defaultWindow: '5m', maxSubscriptions: 100 };
    const fromClient = examples().filter((e) => e.type === 'subscribe' || e.type === 'unsubscribe' || (e.type === 'ping' && 'id' in e) || (e.type === 'pong' && !('id' in e)));
    expect(fromClient.length).toBeGreaterThanOrEqual(8);
    for (const e of fromClient) expect(parseClientMessage(JSON.stringify(e), ctx).kind, JSON.stringify(e)).toBe(e.type);
  });

  it('documents every error code', () => {
    for (const code of ERROR_CODES) expect(doc, code).toContain(`| \`${code}\` |`);
  });
});
