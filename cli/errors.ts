/** Errors that end in exit code 2 with one line on stderr: bad usage or bad input. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT = { ok: 0, violation: 1, usage: 2 } as const;
