/** The CLI run in-process, its output captured (for tests of commands end to end). */
import { main } from '../cli/main.ts';
import type { Io } from '../cli/output.ts';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function runCli(args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += `${t}\n`), err: (t) => void (err += `${t}\n`) };
  const code = await main(args, io);
  return { code, out, err };
}
