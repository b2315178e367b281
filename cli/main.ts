/**
 * The command line: one yargs object per command, shared option builders, strict parsing, and
 * one error path. Exit codes: 0 ok, 1 violation, 2 bad usage or bad input.
 */
import yargs from 'yargs';
import { BUILTIN_VARIANTS } from '../model/variants/index.ts';
import { HOST_BEHAVIOURS } from '../model/config.ts';
import { OPERATIONS } from '../model/operations.ts';
import { pieceNames } from '../model/kernel/hyp.ts';
import { pkvmProperties } from '../invariants/index.ts';
import { ConfigError, DEFAULT_CONFIG } from '../model/config.ts';
import { CallTooLong } from '../model/concurrent/cpu-memory.ts';
import { VariantError } from '../model/variant.ts';
import { EXIT, UsageError } from './errors.ts';
import { configFromArgs, nonNegative, positive, wholeNumber, withBounds, withVariant, writableFile, type BoundArgs } from './options.ts';
import { loadVariant } from './variants.ts';
import { printCheck, printDiff, printReplay, printShrink, printTypecheck, printVerify, processIo, progressPrinter, type Io } from './output.ts';
import { runShrink, shrunkFileName } from './shrink.ts';
import { runTypecheck, typescriptVariants } from './typecheck.ts';
import { runCheck, runDiff, runReplay, runVerify } from './run.ts';
import { workersOption } from './worker-model.ts';
import { mkdirSync } from 'node:fs';

const LISTS = ['variants', 'invariants', 'operations', 'pieces', 'hosts'] as const;

function listText(what: (typeof LISTS)[number]): string {
  switch (what) {
    case 'variants':
      return BUILTIN_VARIANTS.map((v) => `${v.name}\n    ${v.description}${v.replaces.length ? `\n    replaces: ${v.replaces.join(', ')}` : ''}`).join('\n');
    case 'invariants':
      return pkvmProperties(DEFAULT_CONFIG)
        .map((p) => `${p.name.padEnd(24)} [${p.kind}] ${p.description}`)
        .concat([`${'hyp-failure'.padEnd(24)} [group] no-bug, no-vmemmap-fault, no-hang, no-warn, no-uninitialised-return, lock-discipline`])
        .join('\n');
    case 'operations':
      return OPERATIONS.map((o) => `${o.name.padEnd(28)} [${o.actor}${o.hosts ? `: ${o.hosts.join('/')}` : ''}] ${o.description}`).join('\n');
    case 'pieces':
      return pieceNames().join('\n');
    case 'hosts':
      return Object.entries(HOST_BEHAVIOURS)
        .map(([k, v]) => `${k.padEnd(12)} ${v}`)
        .join('\n');
  }
}

/** --typecheck: the TypeScript variant modules named, type-checked before the run; false (after printing the errors) when they have any. */
function typecheckFirst(on: boolean | undefined, names: readonly (string | undefined)[], io: Io): boolean {
  const files = typescriptVariants(names);
  return !on || !files.length || printTypecheck(runTypecheck(files), false, io, true) === EXIT.ok;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const debug = argv.includes('--debug');
  const parser = yargs(argv)
    .scriptName('pkvm-check')
    .usage('$0 <command> [options]\n\nA bounded model checker for the memory-ownership protocol of pKVM, DMA sharing included.')
    .command(
      'check',
      'explore the model exhaustively (breadth-first) or by random walks and check the invariants',
      (y) =>
        withVariant(withBounds(y))
          .option('invariant', { type: 'string', array: true, describe: 'check only these invariants (or the group hyp-failure); repeatable', group: 'Search:' })
          .option('depth', { type: 'number', describe: 'do not explore beyond this many steps', group: 'Search:' })
          .option('max-states', { type: 'number', describe: 'stop after this many distinct states', group: 'Search:' })
          .option('time-limit', { type: 'number', describe: 'stop after this many seconds', group: 'Search:' })
          .option('all', { type: 'boolean', default: false, describe: 'go on after a violation and report the shortest trace of every violated invariant', group: 'Search:' })
          .option('random', { type: 'boolean', default: false, describe: 'random walks (fast-check) instead of exhaustive search', group: 'Search:' })
          .option('seed', { type: 'number', describe: 'seed of the random walks (default: drawn and printed)', group: 'Search:' })
          .option('runs', { type: 'number', default: 1000, describe: 'number of random walks', group: 'Search:' })
          .option('trace-out', { type: 'string', default: 'pkvm-check-trace.json', describe: 'where to write the counterexample (with --all, one file per invariant)', group: 'Output:' })
          .option('trace', { type: 'boolean', default: true, describe: 'write trace files (--no-trace: do not)', group: 'Output:' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout', group: 'Output:' })
          .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines on stderr', group: 'Output:' })
          .option('coverage', { type: 'boolean', default: false, describe: "report which pieces, return values and named branches of the variant's code the run reached", group: 'Output:' })
          .option('engine', { type: 'string', choices: ['compiled', 'packed', 'readable'], describe: 'compiled (default: steps compiled into decision trees over the bytes they read), packed (byte states, kernel code at every step) or readable (frozen objects); same kernel code, same results', group: 'Search:' })
          .option('symmetry', { type: 'boolean', default: false, describe: 'symmetry reduction: SMMU domains and guests are interchangeable', group: 'Search:' })
          .option('por', { type: 'boolean', default: false, describe: 'partial-order reduction (sleep sets over the footprints of steps): fewer transitions, same states and traces', group: 'Search:' })
          .option('bitstate', { type: 'number', describe: 'bitstate (supertrace) search in a bit array of this many MiB: larger spaces, partial coverage (reported)', group: 'Search:' })
          .option('frontier-memory', { type: 'number', describe: "keep at most this many MiB of each frontier level's states in memory, the rest in a temporary file", group: 'Search:' })
          .option('checkpoint', { type: 'string', describe: 'save the search into this folder every --checkpoint-every seconds', group: 'Search:' })
          .option('checkpoint-every', { type: 'number', default: 300, describe: 'seconds between checkpoints', group: 'Search:' })
          .option('resume', { type: 'string', describe: 'continue the search saved in this folder (same command and bounds)', group: 'Search:' })
          .option('workers', { type: 'number', default: 1, describe: 'worker threads of the breadth-first search (same states, violations and traces as 1)', group: 'Search:' })
          .option('shrink', { type: 'boolean', default: false, describe: 'shrink each trace (fewer pages, domains, guests, CPUs, slots, steps) before writing it', group: 'Output:' })
          .option('typecheck', { type: 'boolean', default: false, describe: 'type-check a variant given as a TypeScript file before the run (exit 2 on type errors)', group: 'Model:' }),
      async (a) => {
        const config = configFromArgs(a as unknown as BoundArgs);
        if (!typecheckFirst(a.typecheck, [a.variant], io)) return void (code = EXIT.usage);
        const variant = await loadVariant(a.variant);
        const depth = wholeNumber('depth', a.depth, 0);
        const maxStates = wholeNumber('max-states', a['max-states'], 1);
        const timeLimit = nonNegative('time-limit', a['time-limit']);
        if (a.random && (!Number.isInteger(a.runs) || a.runs < 1)) throw new UsageError(`--runs must be a positive integer (got ${a.runs})`);
        if (a.random)
          for (const [flag, given] of Object.entries({ checkpoint: a.checkpoint, resume: a.resume, bitstate: a.bitstate, 'frontier-memory': a['frontier-memory'], por: a.por, symmetry: a.symmetry }))
            if (given !== undefined && given !== false) throw new UsageError(`--random cannot be combined with --${flag} (random walks keep no visited set, frontier or checkpoint; use the breadth-first search)`);
        if (a.trace) writableFile('trace-out', a['trace-out']);
        const seed = a.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
        if (a.seed !== undefined && !Number.isInteger(a.seed)) throw new UsageError(`--seed must be an integer (got ${a.seed})`);
        const report = await runCheck({
          interruptible: io === processIo,
          notice: (t) => io.err(t),
          config,
          variant,
          invariants: a.invariant,
          depth,
          maxStates,
          timeLimit,
          all: a.all,
          traceOut: a.trace ? a['trace-out'] : null,
          random: a.random ? { seed, runs: a.runs } : undefined,
          progress: a.quiet ? undefined : progressPrinter(io),
          command: ['pkvm-check', ...argv].join(' '),
          coverage: a.coverage,
          engine: a.engine,
          symmetry: a.symmetry,
          por: a.por,
          bitstateBytes: a.bitstate !== undefined ? positive('bitstate', a.bitstate) * 2 ** 20 : undefined,
          frontierMemoryBytes: a['frontier-memory'] !== undefined ? nonNegative('frontier-memory', a['frontier-memory'])! * 2 ** 20 : undefined,
          checkpoint: a.checkpoint ? { dir: a.checkpoint, everySeconds: positive('checkpoint-every', a['checkpoint-every']) } : undefined,
          resume: a.resume,
          workers: workersOption(a.workers, { random: a.random, coverage: a.coverage, bitstate: a.bitstate, checkpoint: a.checkpoint, resume: a.resume, por: a.por, 'frontier-memory': a['frontier-memory'] }),
          variantSource: a.variant,
          shrink: a.shrink,
        });
        code = printCheck(report, a.json, io);
      },
    )
    .command(
      'verify',
      'check every variant (or the chosen ones) against every invariant and print the matrix variant x invariant',
      (y) =>
        withBounds(y)
          .option('host', { type: 'string', default: 'iommu', choices: Object.keys(HOST_BEHAVIOURS), describe: 'host behaviour (default: the untrusted host of the IOMMU hypercalls)', group: 'Model bounds:' })
          .option('variant', { type: 'string', array: true, describe: 'variants to verify (default: every built-in variant); repeatable', group: 'Model:' })
          .option('invariant', { type: 'string', array: true, describe: 'invariants (default: all)', group: 'Search:' })
          .option('depth', { type: 'number', default: 8, describe: 'depth bound per variant', group: 'Search:' })
          .option('max-states', { type: 'number', describe: 'state bound per variant', group: 'Search:' })
          .option('time-limit', { type: 'number', describe: 'time bound per variant, in seconds', group: 'Search:' })
          .option('trace-dir', { type: 'string', describe: 'write the shortest trace of every violation into this folder', group: 'Output:' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout', group: 'Output:' })
          .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines on stderr', group: 'Output:' })
          .option('engine', { type: 'string', choices: ['compiled', 'packed', 'readable'], describe: 'state representation (default: compiled where the variant allows it)', group: 'Search:' })
          .option('por', { type: 'boolean', default: false, describe: 'partial-order reduction (sleep sets): fewer transitions, same verdicts', group: 'Search:' })
          .option('workers', { type: 'number', default: 1, describe: 'worker threads of the breadth-first search (same results as 1)', group: 'Search:' })
          .option('typecheck', { type: 'boolean', default: false, describe: 'type-check a variant given as a TypeScript file before the run (exit 2 on type errors)', group: 'Model:' }),
      async (a) => {
        if (!typecheckFirst(a.typecheck, a.variant ?? [], io)) return void (code = EXIT.usage);
        // verify models the IOTLB unless told not to: a missing TLB invalidation shows only there
        const config = configFromArgs({ ...(a as unknown as BoundArgs), iotlb: a.iotlb ?? true });
        const names = a.variant && a.variant.length ? a.variant : BUILTIN_VARIANTS.map((v) => v.name);
        const variants = [];
        for (const name of names) variants.push(await loadVariant(name));
        if (a['trace-dir']) mkdirSync(a['trace-dir'], { recursive: true });
        const report = runVerify({
          config,
          variants,
          invariants: a.invariant,
          depth: wholeNumber('depth', a.depth, 0),
          maxStates: wholeNumber('max-states', a['max-states'], 1),
          timeLimit: nonNegative('time-limit', a['time-limit']),
          traceDir: a['trace-dir'] ?? null,
          progress: a.quiet ? undefined : (v, p) => progressPrinter(io)(p, v),
          engine: a.engine,
          workers: workersOption(a.workers, { por: a.por }),
          por: a.por,
          variantSources: names,
        });
        code = printVerify(report, a.json, io);
      },
    )
    .command(
      'diff <a> <b>',
      'explore two variants together over the same sequences of operations and report the shortest one after which they disagree',
      (y) =>
        withBounds(y)
          .positional('a', { type: 'string', demandOption: true, describe: 'a variant (name or module path)' })
          .positional('b', { type: 'string', demandOption: true, describe: 'another variant' })
          .option('depth', { type: 'number', describe: 'do not explore beyond this many steps', group: 'Search:' })
          .option('max-states', { type: 'number', describe: 'stop after this many distinct state pairs', group: 'Search:' })
          .option('time-limit', { type: 'number', describe: 'stop after this many seconds', group: 'Search:' })
          .option('trace-out', { type: 'string', default: 'pkvm-check-diff.json', describe: 'where to write the diverging sequence (a trace of the first variant)', group: 'Output:' })
          .option('trace', { type: 'boolean', default: true, describe: 'write the trace (--no-trace: do not)', group: 'Output:' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout', group: 'Output:' })
          .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines on stderr', group: 'Output:' })
          .option('engine', { type: 'string', choices: ['compiled', 'packed', 'readable'], describe: 'state representation (default: compiled where both variants allow it)', group: 'Search:' })
          .option('workers', { type: 'number', default: 1, describe: 'worker threads of the breadth-first search (same results as 1)', group: 'Search:' })
          .option('typecheck', { type: 'boolean', default: false, describe: 'type-check a variant given as a TypeScript file before the run (exit 2 on type errors)', group: 'Model:' }),
      async (a) => {
        const config = configFromArgs(a as unknown as BoundArgs);
        if (!typecheckFirst(a.typecheck, [a.a as string, a.b as string], io)) return void (code = EXIT.usage);
        if (a.trace) writableFile('trace-out', a['trace-out']);
        const report = runDiff({
          workers: workersOption(a.workers),
          sources: { a: a.a as string, b: a.b as string },
          a: await loadVariant(a.a as string),
          b: await loadVariant(a.b as string),
          config,
          depth: wholeNumber('depth', a.depth, 0),
          maxStates: wholeNumber('max-states', a['max-states'], 1),
          timeLimit: nonNegative('time-limit', a['time-limit']),
          traceOut: a.trace ? a['trace-out'] : null,
          progress: a.quiet ? undefined : progressPrinter(io),
          engine: a.engine,
        });
        code = printDiff(report, a.json, io);
      },
    )
    .command(
      'replay <file>',
      're-execute a trace file step by step and say whether the same violation happens (optionally on another variant)',
      (y) =>
        withVariant(y)
          .positional('file', { type: 'string', demandOption: true, describe: 'a trace file written by check' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout' }),
      async (a) => {
        const report = await runReplay(a.file as string, a.variant ? await loadVariant(a.variant) : null, (name) => loadVariant(name));
        code = printReplay(report, a.json, io);
      },
    )
    .command(
      'shrink <file>',
      "shrink a trace file's violation: the same invariant on fewer pages, domains, guests, CPUs, IOVA/IPA slots and steps",
      (y) =>
        withVariant(y)
          .positional('file', { type: 'string', demandOption: true, describe: 'a trace file written by check' })
          .option('out', { type: 'string', describe: 'where to write the shrunk trace (default: FILE with .shrunk before .json)' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout' }),
      async (a) => {
        const out = a.out ?? shrunkFileName(a.file as string);
        writableFile('out', out);
        const report = await runShrink(a.file as string, out, a.variant ? await loadVariant(a.variant) : null, (name) => loadVariant(name), a.variant);
        code = printShrink(report, a.json, io);
      },
    )
    .command(
      'typecheck <files..>',
      "type-check variant modules with pkvm-check's TypeScript: errors as file:line:col: message (exit 2), none (exit 0)",
      (y) =>
        y
          .positional('files', { type: 'string', array: true, demandOption: true, describe: 'variant modules (.ts)' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout' }),
      (a) => {
        code = printTypecheck(runTypecheck(a.files as string[]), a.json, io);
      },
    )
    .command(
      'list <what>',
      'list the variants, invariants, operations, pieces (replaceable kernel functions) or host behaviours',
      (y) => y.positional('what', { choices: LISTS, demandOption: true }),
      (a) => {
        io.out(listText(a.what as (typeof LISTS)[number]));
        code = EXIT.ok;
      },
    )
    .option('debug', { type: 'boolean', default: false, describe: 'print stack traces of errors' })
    .demandCommand(1, 'name a command: check, verify, diff, replay, shrink, typecheck or list')
    .strict()
    .help()
    .alias('h', 'help')
    .version('0.1.0')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg.replace(/\s*\n\s*/g, ' '));
    });

  try {
    await parser.parseAsync();
    return code;
  } catch (e) {
    if (debug && e instanceof Error) io.err(e.stack ?? e.message);
    if (e instanceof UsageError || e instanceof VariantError) {
      io.err(`pkvm-check: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof Error && e.name === 'YError') {
      io.err(`pkvm-check: ${e.message.replace(/\s*\n\s*/g, ' ')}`);
      return EXIT.usage;
    }
    if (e instanceof ConfigError || e instanceof CallTooLong) {
      io.err(`pkvm-check: ${e.message}`);
      return EXIT.usage;
    }
    io.err(`pkvm-check: internal error: ${e instanceof Error ? e.message : String(e)}${debug ? '' : ' (run with --debug for the stack)'}`);
    return EXIT.internal;
  }
}
