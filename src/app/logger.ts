import { pino } from 'pino';
import type { Logger } from 'pino';
import type { DriftwatchConfig } from '../config/types.ts';

export function createLogger(config: Pick<DriftwatchConfig, 'log'>, name: string): Logger {
  return pino({ name, level: config.log.level });
}
