/**
 * One error shape for every failure: `{ error, message, statusCode }`, written by one error
 * handler. Routes and hooks throw `httpError(status, message)`; fastify's own errors (schema
 * validation, body too large, bad JSON) and unexpected exceptions reach the same handler.
 * Validation messages name the part and field (`querystring/window must be one of: 1m, 5m`).
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { patternHints } from './schemas.ts';

/** The request part a validation error is about (fastify's SchemaErrorDataVar, not exported by its index). */
export type SchemaErrorDataVar = 'body' | 'headers' | 'params' | 'querystring';

export interface ErrorBody {
  error: string;
  message: string;
  statusCode: number;
}

/** The body of an error response (also written by the WebSocket upgrade and the readiness probe). */
export function errorBody(statusCode: number, message: string): ErrorBody {
  return { error: STATUS_CODES[statusCode] ?? 'Error', message, statusCode };
}

/** A failure a route or hook reports to the client: its status, message and extra response headers. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Throw it from a handler or hook: the error handler answers `errorBody(statusCode, message)`. */
export function httpError(statusCode: number, message: string, headers?: Readonly<Record<string, string>>): HttpError {
  return new HttpError(statusCode, message, headers);
}

/** Known versions listed in a 404 at most: the message stays readable for a model with many versions. */
const LISTED_VERSIONS = 20;

/** 404 for a version never seen of a known model, listing the versions that are known. */
export function unknownVersionError(model: string, version: string, known: readonly string[]): HttpError {
  const listed = known.length === 0 ? 'none' : known.slice(0, LISTED_VERSIONS).join(', ') + (known.length > LISTED_VERSIONS ? ` and ${known.length - LISTED_VERSIONS} more` : '');
  return httpError(404, `unknown version '${version}' of model '${model}' (known versions: ${listed})`);
}

function describeValidationError(e: FastifySchemaValidationError, dataVar: SchemaErrorDataVar): string {
  const where = `${dataVar}${e.instancePath}`;
  switch (e.keyword) {
    case 'required':
      return `${where}/${String(e.params.missingProperty)} is required`;
    case 'enum': {
      const allowed = Array.isArray(e.params.allowedValues) ? e.params.allowedValues.map(String).join(', ') : '';
      return `${where} must be one of: ${allowed}`;
    }
    case 'pattern': {
      const hint = patternHints[String(e.params.pattern)];
      return `${where} ${hint ?? `must match pattern ${String(e.params.pattern)}`}`;
    }
    case 'additionalProperties':
      return `${where} has unknown property '${String(e.params.additionalProperty)}'`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

/** fastify `schemaErrorFormatter`: the message names the request part and field. */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  return new Error(errors.map((e) => describeValidationError(e, dataVar)).join('; '));
}

/** Strip the query string (it may carry the token) and cap the length of a path echoed back. */
export function safePath(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path.length > 200 ? `${path.slice(0, 200)}...` : path;
}

/** Installs the error and not-found handlers on the root instance (inherited by every scope). */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: { statusCode?: number; message?: string }, request, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (err instanceof HttpError) reply.headers(err.headers);
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      // Internal details stay in the log, not in the response.
      return reply.code(status).send(errorBody(status, 'internal error'));
    }
    return reply.code(status).send(errorBody(status, err.message ?? 'bad request'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, `no route ${request.method} ${safePath(request.url)}`)),
  );
}
