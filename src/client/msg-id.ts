/**
 * The `Nats-Msg-Id` a publisher sets on each event, so that JetStream stores an event once even
 * when its publish is retried (an ack lost to a disconnect, a server restart, a caller that
 * re-publishes after a PublishError): JetStream drops a message whose id it has already stored
 * within the stream's duplicate window (2 minutes by default).
 *
 * The id depends only on the event, not on the publish call, so every retry of any publisher
 * (in any language) that follows this rule gets the same id:
 *
 *     <model>:<id token>:pred      for a prediction
 *     <model>:<id token>:label     for a label
 *
 * The id token is the prediction id with each byte of its UTF-8 encoding outside visible ASCII
 * (0x21-0x7E), and '%' itself, written as %XX (upper-case hex): header values cannot hold CR/LF
 * and lose surrounding spaces, and the escape keeps distinct ids distinct. Ordinary ids
 * (`req-8f3a`, a UUID) are their own token. `model` is a subject token, so it holds no ':'.
 */
import { TextEncoder } from 'node:util';

/** Visible ASCII except '%': an id made only of these is its own token. */
const PLAIN_TOKEN = /^[\x21-\x24\x26-\x7e]*$/;

const utf8 = new TextEncoder();

/** The id with non-visible-ASCII bytes and '%' percent-encoded (lone surrogates encode as U+FFFD). */
export function msgIdToken(id: string): string {
  if (PLAIN_TOKEN.test(id)) return id;
  let token = '';
  for (const byte of utf8.encode(id)) {
    token += byte >= 0x21 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return token;
}

/** `Nats-Msg-Id` of a prediction: `<model>:<id token>:pred`. */
export function predictionMsgId(model: string, id: string): string {
  return `${model}:${msgIdToken(id)}:pred`;
}

/** `Nats-Msg-Id` of a label: `<model>:<id token>:label`. */
export function labelMsgId(model: string, id: string): string {
  return `${model}:${msgIdToken(id)}:label`;
}
