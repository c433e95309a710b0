/**
 * Credentials of the embedded nats-server (`npm start` without NATS_URL): closed by default, so
 * another local process can neither read the streams nor forge a pane. Two users, generated once
 * and kept in the data directory (mode 0600):
 * - `driftwatch`: the worker and gateway (everything);
 * - `publisher`: model services and labeling systems, which may only publish events to
 *   `drift.in.>` and read the partition count (KV DRIFT_META), as DriftPublisher does.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { META_BUCKET } from './subjects.ts';

export interface EmbeddedUser {
  user: string;
  password: string;
}

export interface EmbeddedCredentials {
  driftwatch: EmbeddedUser;
  publisher: EmbeddedUser;
}

export const CREDENTIALS_FILE = 'credentials.json';
const SERVER_CONFIG_FILE = 'auth.conf';

/** What a publisher may send: events, and the JetStream API calls the SDK makes to read the partition count. */
export const PUBLISHER_PUBLISH_ALLOW: readonly string[] = [
  'drift.in.>',
  '$JS.API.INFO',
  `$JS.API.STREAM.INFO.KV_${META_BUCKET}`,
  `$JS.API.STREAM.MSG.GET.KV_${META_BUCKET}`,
  `$JS.API.DIRECT.GET.KV_${META_BUCKET}`,
  `$JS.API.DIRECT.GET.KV_${META_BUCKET}.>`,
];
/** Replies (publish acks, API answers) come to the client's inbox. */
export const PUBLISHER_SUBSCRIBE_ALLOW: readonly string[] = ['_INBOX.>'];

function secret(): string {
  return randomBytes(24).toString('base64url');
}

function isUser(value: unknown): value is EmbeddedUser {
  const v = value as EmbeddedUser;
  return typeof v === 'object' && v !== null && typeof v.user === 'string' && typeof v.password === 'string' && v.password.length >= 16;
}

/** Reads the credentials of storeDir, or creates them on the first start. */
export function embeddedCredentials(storeDir: string): EmbeddedCredentials {
  const file = path.join(storeDir, CREDENTIALS_FILE);
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`embedded nats-server credentials ${file} are not valid JSON (${(error as Error).message}): delete the file to generate new ones`);
    }
    const c = parsed as EmbeddedCredentials;
    if (!isUser(c?.driftwatch) || !isUser(c?.publisher)) {
      throw new Error(`embedded nats-server credentials ${file} lack a driftwatch or publisher user with a password: delete the file to generate new ones`);
    }
    return { driftwatch: c.driftwatch, publisher: c.publisher };
  }
  const created: EmbeddedCredentials = {
    driftwatch: { user: 'driftwatch', password: secret() },
    publisher: { user: 'publisher', password: secret() },
  };
  writeFileSync(file, JSON.stringify(created, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return created;
}

const quoted = (s: string): string => JSON.stringify(s);

/** A nats-server configuration file with the two users; returns its path. */
export function writeServerAuthConfig(storeDir: string, credentials: EmbeddedCredentials): string {
  const file = path.join(storeDir, SERVER_CONFIG_FILE);
  const list = (subjects: readonly string[]) => `[${subjects.map(quoted).join(', ')}]`;
  const text = `# written by driftwatch at every start from ${CREDENTIALS_FILE}; edit that file, not this one
authorization {
  users: [
    { user: ${quoted(credentials.driftwatch.user)}, password: ${quoted(credentials.driftwatch.password)} }
    {
      user: ${quoted(credentials.publisher.user)}, password: ${quoted(credentials.publisher.password)}
      permissions: {
        publish: { allow: ${list(PUBLISHER_PUBLISH_ALLOW)} }
        subscribe: { allow: ${list(PUBLISHER_SUBSCRIBE_ALLOW)} }
      }
    }
  ]
}
`;
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}
