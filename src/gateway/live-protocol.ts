/**
 * The live feed's client messages: validation of what a client sends, with an error that names
 * the field and a machine-readable code. Pure: no socket, no state beyond what the caller passes.
 * The protocol itself is described in docs/websocket.md.
 */
import { NAME_MAX_LENGTH, NAME_PATTERN } from './schemas.ts';
import { VERSION_MAX_LENGTH } from '../contract/limits.ts';

export const WILDCARD = '*';
/** Topics of a model subscription. */
export const MODEL_TOPICS = ['metrics', 'drift', 'alerts'] as const;
export type ModelTopic = (typeof MODEL_TOPICS)[number];
export const TOPICS = [...MODEL_TOPICS, 'cluster'] as const;
export type Topic = (typeof TOPICS)[number];

/** `code` of an error frame: what kind of thing was wrong (each is documented in docs/websocket.md). */
export const ERROR_CODES = [
  'invalid_json',
  'invalid_message',
  'unknown_type',
  'too_large',
  'binary',
  'too_many_subscriptions',
  'rate_limited',
  'cluster_unavailable',
  'unknown_version',
  'resume_unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ProtocolError {
  kind: 'error';
  code: ErrorCode;
  message: string;
}

export interface SubscribeMessage {
  kind: 'subscribe';
  /** Model names and/or '*'; empty when only the cluster topic is asked for. */
  models: string[];
  topics: Topic[];
  window: string;
  version: string | undefined;
  /** The seq of the last alert frame the client received: the alerts after it are replayed. */
  lastSeq: number | undefined;
}

export interface UnsubscribeMessage {
  kind: 'unsubscribe';
  models: string[];
  /** Undefined: the whole subscription of each model. */
  topics: Topic[] | undefined;
}

/** A client's heartbeat probe (answered with pong) or its answer to the server's ping. */
export interface HeartbeatMessage {
  kind: 'ping' | 'pong';
  id: string | number | undefined;
}

export type ClientMessage = SubscribeMessage | UnsubscribeMessage | HeartbeatMessage;

export interface ParseContext {
  windows: readonly string[];
  defaultWindow: string;
  maxSubscriptions: number;
}

const NAME_REGEX = new RegExp(NAME_PATTERN, 'u');
const MESSAGE_TYPES = ['subscribe', 'unsubscribe', 'ping', 'pong'];
const HEARTBEAT_ID_MAX_LENGTH = 64;

function fail(code: ErrorCode, message: string): ProtocolError {
  return { kind: 'error', code, message };
}

/** Parses and validates one text frame. */
export function parseClientMessage(text: string, ctx: ParseContext): ClientMessage | ProtocolError {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (err) {
    return fail('invalid_json', `invalid JSON: ${(err as Error).message}`);
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return fail('invalid_message', 'message must be a JSON object with a "type" field');
  const m = msg as Record<string, unknown>;
  switch (m.type) {
    case 'subscribe':
      return parseSubscribe(m, ctx);
    case 'unsubscribe':
      return parseUnsubscribe(m, ctx);
    case 'ping':
    case 'pong':
      return parseHeartbeat(m.type, m);
    default:
      return fail('unknown_type', `unknown message type ${JSON.stringify(m.type) ?? 'undefined'}: expected one of ${MESSAGE_TYPES.map((t) => `"${t}"`).join(', ')}`);
  }
}

function parseHeartbeat(type: 'ping' | 'pong', m: Record<string, unknown>): HeartbeatMessage | ProtocolError {
  const id = m.id;
  if (id === undefined) return { kind: type, id: undefined };
  if ((typeof id === 'number' && Number.isFinite(id)) || (typeof id === 'string' && id.length <= HEARTBEAT_ID_MAX_LENGTH)) return { kind: type, id };
  return fail('invalid_message', `${type}.id must be a finite number or a string of at most ${HEARTBEAT_ID_MAX_LENGTH} characters`);
}

function parseTopics(type: string, value: unknown): Topic[] | ProtocolError {
  if (!Array.isArray(value) || value.length === 0 || !value.every((t) => (TOPICS as readonly unknown[]).includes(t))) {
    return fail('invalid_message', `${type}.topics must be a non-empty array of ${TOPICS.map((t) => `"${t}"`).join(', ')}`);
  }
  return [...new Set(value as Topic[])];
}

function parseModels(type: string, value: unknown, maxSubscriptions: number): string[] | ProtocolError {
  if (!Array.isArray(value) || value.length === 0) return fail('invalid_message', `${type}.models must be a non-empty array of model names or "*"`);
  if (value.length > maxSubscriptions) {
    return fail('too_many_subscriptions', `${type}.models has ${value.length} entries, more than maxSubscriptions ${maxSubscriptions}`);
  }
  for (let i = 0; i < value.length; i++) {
    const name: unknown = value[i];
    if (name === WILDCARD) continue;
    if (typeof name !== 'string' || name.length === 0 || name.length > NAME_MAX_LENGTH || !NAME_REGEX.test(name)) {
      return fail('invalid_message', `${type}.models[${i}] must be "*" or a model name of 1-${NAME_MAX_LENGTH} characters without whitespace, '.', '*' or '>'`);
    }
  }
  return [...new Set(value as string[])];
}

const hasModelTopic = (topics: readonly Topic[]): boolean => topics.some((t) => t !== 'cluster');

function parseSubscribe(m: Record<string, unknown>, ctx: ParseContext): SubscribeMessage | ProtocolError {
  let topics: Topic[] = [...MODEL_TOPICS];
  if (m.topics !== undefined) {
    const parsed = parseTopics('subscribe', m.topics);
    if (!Array.isArray(parsed)) return parsed;
    topics = parsed;
  }
  let models: string[] = [];
  if (m.models !== undefined || hasModelTopic(topics)) {
    const parsed = parseModels('subscribe', m.models, ctx.maxSubscriptions);
    if (!Array.isArray(parsed)) return parsed;
    models = parsed;
    if (!hasModelTopic(topics)) return fail('invalid_message', 'subscribe.models needs a model topic in subscribe.topics ("metrics", "drift" or "alerts"); "cluster" alone takes no models');
  }
  const window = m.window ?? ctx.defaultWindow;
  if (typeof window !== 'string' || !ctx.windows.includes(window)) return fail('invalid_message', `subscribe.window must be one of: ${ctx.windows.join(', ')}`);
  let version: string | undefined;
  if (m.version !== undefined && m.version !== null) {
    if (typeof m.version !== 'string' || m.version.length === 0 || m.version.length > VERSION_MAX_LENGTH) {
      return fail('invalid_message', `subscribe.version must be a version name of 1-${VERSION_MAX_LENGTH} characters`);
    }
    version = m.version;
  }
  let lastSeq: number | undefined;
  if (m.lastSeq !== undefined && m.lastSeq !== null) {
    if (typeof m.lastSeq !== 'number' || !Number.isSafeInteger(m.lastSeq) || m.lastSeq < 0) {
      return fail('invalid_message', 'subscribe.lastSeq must be a non-negative integer: the seq of the last alert frame received');
    }
    if (!topics.includes('alerts')) return fail('invalid_message', 'subscribe.lastSeq resumes alerts: it needs "alerts" in subscribe.topics');
    lastSeq = m.lastSeq;
  }
  return { kind: 'subscribe', models, topics, window, version, lastSeq };
}

function parseUnsubscribe(m: Record<string, unknown>, ctx: ParseContext): UnsubscribeMessage | ProtocolError {
  let topics: Topic[] | undefined;
  if (m.topics !== undefined) {
    const parsed = parseTopics('unsubscribe', m.topics);
    if (!Array.isArray(parsed)) return parsed;
    topics = parsed;
  }
  if (m.models === undefined && topics !== undefined && !hasModelTopic(topics)) return { kind: 'unsubscribe', models: [], topics };
  const models = parseModels('unsubscribe', m.models, ctx.maxSubscriptions);
  if (!Array.isArray(models)) return models;
  return { kind: 'unsubscribe', models, topics };
}
