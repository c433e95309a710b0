import type { Logger } from 'pino';
import type { DriftwatchConfig } from '../config/types.ts';
import { createProcessLogger, resolveLogFormat } from '../logging/logger.ts';

export function createLogger(config: Pick<DriftwatchConfig, 'log'>, name: string): Logger {
  return createProcessLogger({ name, level: config.log.level, format: resolveLogFormat(config.log.format) });
}
