/** A problem with the command line: printed with the usage hint, exit code 2. */
export class UsageError extends Error {}

/** A runtime failure already explained by its message: exit code 1. */
export class CommandError extends Error {}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
