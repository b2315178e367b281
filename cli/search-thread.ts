/**
 * `check`'s breadth-first search in a thread of its own, so that the CLI's thread stays free to
 * take Ctrl-C: the first Ctrl-C asks the search to stop (it ends as if a bound cut it, writes a
 * last checkpoint when it keeps them, and its partial statistics and the traces found so far are
 * printed as usual); a second one quits at once. The thread builds the model and properties as
 * the CLI's thread would (worker-model.ts's factory) and runs the same search.
 *
 * This module is both sides: `searchInThread` (the CLI's thread) and, when it runs as the worker,
 * the search itself.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { BOOT, defaultLoaders } from '../checker/parallel.ts';
import type { CheckOptions, CheckResult, Progress } from '../checker/types.ts';
import { CheckpointError } from '../checker/checkpoint.ts';
import { ConfigError } from '../model/config.ts';
import { CallTooLong } from '../model/concurrent/cpu-memory.ts';
import { VariantError } from '../model/variant.ts';
import { UsageError } from './errors.ts';
import { pkvmFactory, pkvmSearch, searchWith, type PkvmSearchArgs } from './worker-model.ts';

/** The options that cross to the thread (functions stay here). */
type ThreadOptions = Omit<CheckOptions, 'onProgress' | 'interrupt'>;

interface ThreadData {
  readonly role: 'pkvm-check-search';
  readonly args: PkvmSearchArgs;
  readonly options: ThreadOptions;
  readonly workers: number | undefined;
  readonly interrupt: Int32Array;
}

type FromThread =
  | { readonly type: 'progress'; readonly progress: Progress }
  | { readonly type: 'done'; readonly result: CheckResult }
  | { readonly type: 'error'; readonly name: string; readonly message: string; readonly stack: string };

const ERRORS: Readonly<Record<string, new (...a: never[]) => Error>> = { UsageError, VariantError, CheckpointError, ConfigError, CallTooLong };

/** An error of the thread as the class it was (the CLI picks exit codes by class). */
function revive(m: Extract<FromThread, { type: 'error' }>): Error {
  const cls = ERRORS[m.name];
  const e = cls ? (Object.create(cls.prototype) as Error) : new Error(m.message);
  Object.defineProperty(e, 'message', { value: m.message, enumerable: false, writable: true });
  e.stack = m.stack;
  return e;
}

/** Runs the search in a thread; Ctrl-C stops it (see the module's comment). `notice` tells the user what Ctrl-C did. */
export async function searchInThread(
  args: PkvmSearchArgs,
  workers: number | undefined,
  options: CheckOptions,
  notice: (text: string) => void,
): Promise<CheckResult> {
  const { onProgress, interrupt: _ignored, ...rest } = options;
  const interrupt = new Int32Array(new SharedArrayBuffer(4));
  const data: ThreadData & { boot: { loaders: string[]; entry: string } } = {
    role: 'pkvm-check-search',
    args,
    options: rest,
    workers,
    interrupt,
    boot: { loaders: defaultLoaders(), entry: import.meta.url },
  };
  const thread = new Worker(BOOT, { eval: true, workerData: data });
  let presses = 0;
  const onSigint = () => {
    presses++;
    if (presses === 1) {
      Atomics.store(interrupt, 0, 1);
      notice('pkvm-check: interrupted: the search stops after the state it is expanding; Ctrl-C again quits at once');
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);
  try {
    return await new Promise<CheckResult>((resolve, reject) => {
      thread.on('message', (m: FromThread) => {
        if (m.type === 'progress') onProgress?.(m.progress);
        else if (m.type === 'done') resolve(m.result);
        else reject(revive(m));
      });
      thread.on('error', reject);
      thread.on('exit', (code) => reject(new Error(`the search thread exited (code ${code}) before the search ended`)));
    });
  } finally {
    process.off('SIGINT', onSigint);
    void thread.terminate();
  }
}

// ---------------------------------------------------------------- the thread

if (!isMainThread && (workerData as ThreadData | undefined)?.role === 'pkvm-check-search') {
  const d = workerData as ThreadData;
  const post = (m: FromThread) => parentPort!.postMessage(m);
  try {
    const built = await pkvmSearch(d.args);
    const result = searchWith(d.workers, () => pkvmFactory(d.args), built.model as never, built.properties as never, {
      ...d.options,
      interrupt: d.interrupt,
      onProgress: (progress) => post({ type: 'progress', progress }),
    });
    post({ type: 'done', result });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ type: 'error', name: err.name, message: err.message, stack: err.stack ?? '' });
  }
}
