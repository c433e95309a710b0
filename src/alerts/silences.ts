import { randomUUID } from 'node:crypto';
import type { Silence } from '../contract/alerting.ts';
import { parseDuration } from '../contract/duration.ts';
import { matchesAlert, parseMatchers, type AlertIdentity } from './matchers.ts';

/** The longest silence accepted: a forgotten silence should not hide a model for ever. */
export const MAX_SILENCE_MS = 90 * 24 * 3600_000;

/** A request that cannot become a silence: the message names the field. */
export class SilenceRequestError extends Error {
  override readonly name = 'SilenceRequestError';
}

function text(raw: unknown, field: string, max: number): string {
  if (typeof raw !== 'string' || raw.trim().length === 0 || raw.length > max) {
    throw new SilenceRequestError(`${field} must be a non-empty string of at most ${max} characters, got ${JSON.stringify(raw)}`);
  }
  return raw.trim();
}

function instant(raw: unknown, field: string): number {
  const ms = typeof raw === 'number' ? raw : typeof raw === 'string' ? Date.parse(raw) : NaN;
  if (!Number.isFinite(ms)) throw new SilenceRequestError(`${field} must be epoch milliseconds or an ISO 8601 time, got ${JSON.stringify(raw)}`);
  return ms;
}

/**
 * Turns `POST /v1/silences` into a silence: `matchers` (model/rule/scope, at least one),
 * `duration` ('2h', or ms) or `endsAt` (epoch ms or ISO time, exactly one of the two), optional
 * `startsAt` (default now), `comment` and `createdBy`.
 */
export function silenceFromRequest(body: Record<string, unknown>, now: number, id: string = randomUUID()): Silence {
  const matchers = parseMatchers(body.matchers, 'matchers', true);
  if (!matchers.ok) throw new SilenceRequestError(matchers.message);
  const startsAt = body.startsAt === undefined ? now : instant(body.startsAt, 'startsAt');
  if ((body.duration === undefined) === (body.endsAt === undefined)) {
    throw new SilenceRequestError("give exactly one of duration (e.g. '2h', or milliseconds) and endsAt (epoch ms or ISO time)");
  }
  let endsAt: number;
  if (body.duration !== undefined) {
    const ms = typeof body.duration === 'number' ? body.duration : typeof body.duration === 'string' ? parseDuration(body.duration) : null;
    if (ms === null || !(ms > 0)) throw new SilenceRequestError(`duration must be a positive duration like '30m', '2h' or milliseconds, got ${JSON.stringify(body.duration)}`);
    endsAt = startsAt + ms;
  } else {
    endsAt = instant(body.endsAt, 'endsAt');
  }
  if (!(endsAt > Math.max(now, startsAt))) throw new SilenceRequestError(`endsAt (${new Date(endsAt).toISOString()}) must be after now and after startsAt`);
  if (endsAt - startsAt > MAX_SILENCE_MS) throw new SilenceRequestError(`a silence may last at most 90 days; extend it later if needed`);
  return {
    id,
    matchers: matchers.matchers,
    startsAt,
    endsAt,
    comment: text(body.comment, 'comment', 1000),
    createdBy: text(body.createdBy, 'createdBy', 200),
    createdAt: now,
    expiredAt: null,
    expiredBy: null,
  };
}

/** Whether a silence is in force at `now` (started, not ended, not expired early). */
export function silenceActive(silence: Silence, now: number): boolean {
  return silence.startsAt <= now && now < silence.endsAt && silence.expiredAt === null;
}

/** Ids of the silences in force at `now` that cover the alert. */
export function silencesCovering(silences: Iterable<Silence>, alert: AlertIdentity, now: number): string[] {
  const ids: string[] = [];
  for (const silence of silences) if (silenceActive(silence, now) && matchesAlert(silence.matchers, alert)) ids.push(silence.id);
  return ids.sort();
}
