/** Errors that end in exit code 2 with one line on stderr: bad usage or bad input. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * 0 no violation within the bounds, 1 a violation, 2 bad usage or bad input, 3 an internal error
 * of pkvm-check, 130 interrupted (Ctrl-C) before any violation was found.
 */
export const EXIT = { ok: 0, violation: 1, usage: 2, internal: 3, interrupted: 130 } as const;
