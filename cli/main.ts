/**
 * The command line: one yargs object per command, shared option builders, strict parsing, and
 * one error path. Exit codes: 0 ok, 1 violation, 2 bad usage or bad input. docs/cli.md is the
 * user's guide to it.
 */
import yargs from 'yargs';
import { BUILTIN_VARIANTS } from '../model/variants/index.ts';
import { ConfigError } from '../model/config.ts';
import { CallTooLong } from '../model/concurrent/cpu-memory.ts';
import { VariantError } from '../model/variant.ts';
import { EXIT, UsageError } from './errors.ts';
import { configFromArgs, depthFor, nonNegative, positive, wholeNumber, withBounds, withProgress, withVariant, writableFile, type BoundArgs } from './options.ts';
import { loadVariant } from './variants.ts';
import { colourWanted, printCheck, printDiff, printList, printReplay, printShrink, printText, printTypecheck, printVerify, processIo, progressPrinter, type Io } from './output.ts';
import { withConfigFile } from './config-file.ts';
import { defaultDescription, differencesForHelp, differencesInEffect } from './defaults.ts';
import { COMMANDS, EPILOG, EXAMPLES, epilogOf } from './help.ts';
import { EXPORT_FORMATS, GRAPH_STATE_LIMIT, runExport, runGraph, type ExportFormat } from './run-traces.ts';
import { DIAGRAM_FORMATS, type DiagramFormat } from '../traces/diagram.ts';
import { runCheck, runDiff, runReplay, runVerify, TRACE_FORMATS, type TraceFormatName } from './run.ts';
import { runShrink, shrunkFileName } from './shrink.ts';
import { runTypecheck, typescriptVariants } from './typecheck.ts';
import { workersOption } from './worker-model.ts';
import { checkReportInput, verifyReportInput, writeReport } from './report-file.ts';
import { LISTS, type ListWhat } from './list.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { compareExpect, loadExpect, writeExpect } from './expect.ts';
import { junitXml } from './junit.ts';

/** --steps inlines traces into the JSON output: without --json it would do nothing. */
function stepsNeedJson(a: { steps?: boolean; json?: boolean }): void {
  if (a.steps && !a.json) throw new UsageError('--steps inlines the traces into the JSON output: give --json too');
}

/** --typecheck: the TypeScript variant modules named, type-checked before the run; false (after printing the errors) when they have any. */
function typecheckFirst(on: boolean | undefined, names: readonly (string | undefined)[], io: Io): boolean {
  const files = typescriptVariants(names);
  return !on || !files.length || printTypecheck(runTypecheck(files), false, io, true) === EXIT.ok;
}

export async function main(argv: string[], given: Io = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const debug = argv.includes('--debug');
  // read before parsing, as --debug is: the printers and yargs' own errors need it
  const io: Io = { ...given, colour: colourWanted(given.terminal, argv.includes('--no-color') ? false : argv.includes('--color') ? true : undefined) };
  /** The config file a search command read, for its header. */
  let configFile: string | undefined;
  const usedConfig = (file: string) => void (configFile = file);
  const parser = yargs(argv)
    .scriptName('pkvm-check')
    .usage('$0 <command> [options]\n\nA bounded model checker for the memory-ownership protocol of pKVM, DMA sharing included.')
    .command(
      'check',
      'explore the model exhaustively (breadth-first) or by random walks and check the invariants',
      (y) =>
        withProgress(withConfigFile(withVariant(withBounds(y, 'check')), 'check', usedConfig))
          .example(EXAMPLES.check)
          .epilog(epilogOf(differencesForHelp('check')))
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
          .option('report', { type: 'string', describe: 'write a self-contained HTML report (configuration, verdict, every violation step by step) to this file', group: 'Output:' })
          .option('trace-format', { type: 'string', choices: TRACE_FORMATS, default: 'native', describe: 'native (pkvm-check-trace JSON) or itf (the Informal Trace Format of Apalache and Quint); replay reads both', group: 'Output:' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout', group: 'Output:' })
          .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines on stderr', group: 'Output:' })
          .option('steps', { type: 'boolean', default: false, describe: "with --json: each trace's steps inline (traceSteps), not only the trace file's name", group: 'Output:' })
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
        const config = configFromArgs(a as unknown as BoundArgs, 'check');
        stepsNeedJson(a);
        if (!typecheckFirst(a.typecheck, [a.variant], io)) return void (code = EXIT.usage);
        const variant = await loadVariant(a.variant);
        const depth = depthFor('check', a.depth);
        const maxStates = wholeNumber('max-states', a['max-states'], 1);
        const timeLimit = nonNegative('time-limit', a['time-limit']);
        if (a.random && (!Number.isInteger(a.runs) || a.runs < 1)) throw new UsageError(`--runs must be a positive integer (got ${a.runs})`);
        if (a.random)
          for (const [flag, given] of Object.entries({ checkpoint: a.checkpoint, resume: a.resume, bitstate: a.bitstate, 'frontier-memory': a['frontier-memory'], por: a.por, symmetry: a.symmetry }))
            if (given !== undefined && given !== false) throw new UsageError(`--random cannot be combined with --${flag} (random walks keep no visited set, frontier or checkpoint; use the breadth-first search)`);
        if (a.trace) writableFile('trace-out', a['trace-out']);
        if (a.report !== undefined) writableFile('report', a.report);
        const seed = a.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
        if (a.seed !== undefined && !Number.isInteger(a.seed)) throw new UsageError(`--seed must be an integer (got ${a.seed})`);
        const progress = a.quiet ? undefined : progressPrinter(io, { maxStates, timeLimit, runs: a.random ? a.runs : undefined });
        const report = await runCheck({
          interruptible: given === processIo,
          notice: (t) => (progress ? progress.note(t) : io.err(t)),
          config,
          variant,
          invariants: a.invariant,
          depth,
          maxStates,
          timeLimit,
          all: a.all,
          traceOut: a.trace ? a['trace-out'] : null,
          traceFormat: a['trace-format'] as TraceFormatName,
          random: a.random ? { seed, runs: a.runs } : undefined,
          progress,
          progressIntervalMs: nonNegative('progress-every', a['progress-every'])! * 1000,
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
        }).finally(() => progress?.done());
        if (a.report !== undefined) writeReport(a.report, checkReportInput(report));
        code = printCheck({ ...report, reportFile: a.report }, a.json, io, { configFile, steps: a.steps });
      },
    )
    .command(
      'verify',
      'check every variant (or the chosen ones) against every invariant and print the matrix variant x invariant',
      (y) =>
        withProgress(withConfigFile(withBounds(y, 'verify'), 'verify', usedConfig))
          .example(EXAMPLES.verify)
          .epilog(epilogOf(differencesForHelp('verify')))
          .option('variant', { type: 'string', array: true, describe: 'variants to verify (default: every built-in variant); repeatable', group: 'Model:' })
          .option('invariant', { type: 'string', array: true, describe: 'invariants (default: all)', group: 'Search:' })
          .option('depth', { type: 'number', defaultDescription: defaultDescription('verify', 'depth'), describe: 'depth bound per variant', group: 'Search:' })
          .option('max-states', { type: 'number', describe: 'state bound per variant', group: 'Search:' })
          .option('time-limit', { type: 'number', describe: 'time bound per variant, in seconds', group: 'Search:' })
          .option('trace-dir', { type: 'string', describe: 'write the shortest trace of every violation into this folder', group: 'Output:' })
          .option('report', { type: 'string', describe: 'write a self-contained HTML report (one section per variant, with its violations step by step) to this file', group: 'Output:' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout', group: 'Output:' })
          .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines on stderr', group: 'Output:' })
          .option('steps', { type: 'boolean', default: false, describe: "with --json: each trace's steps inline (traceSteps), not only the trace file's name", group: 'Output:' })
          .option('junit', { type: 'string', describe: 'write JUnit XML: one test suite per variant, one test case per variant x invariant', group: 'CI:' })
          .option('expect', { type: 'string', describe: 'compare every verdict with this file of expected verdicts: exit 0 when all are as expected, 1 when one changed, 2 when the file is bad', group: 'CI:' })
          .option('write-expect', { type: 'string', describe: 'record the verdicts of this run (and its bounds) into this file', group: 'CI:' })
          .option('engine', { type: 'string', choices: ['compiled', 'packed', 'readable'], describe: 'state representation (default: compiled where the variant allows it)', group: 'Search:' })
          .option('por', { type: 'boolean', default: false, describe: 'partial-order reduction (sleep sets): fewer transitions, same verdicts', group: 'Search:' })
          .option('workers', { type: 'number', default: 1, describe: 'worker threads of the breadth-first search (same results as 1)', group: 'Search:' })
          .option('typecheck', { type: 'boolean', default: false, describe: 'type-check a variant given as a TypeScript file before the run (exit 2 on type errors)', group: 'Model:' }),
      async (a) => {
        if (!typecheckFirst(a.typecheck, a.variant ?? [], io)) return void (code = EXIT.usage);
        // verify's own defaults (defaults.ts): a missing TLB invalidation shows only with the IOTLB
        const config = configFromArgs(a as unknown as BoundArgs, 'verify');
        const names = a.variant && a.variant.length ? a.variant : BUILTIN_VARIANTS.map((v) => v.name);
        stepsNeedJson(a);
        const variants = [];
        for (const name of names) variants.push(await loadVariant(name));
        const bounds = { depth: depthFor('verify', a.depth), maxStates: wholeNumber('max-states', a['max-states'], 1), timeLimit: nonNegative('time-limit', a['time-limit']) };
        // the CI files are checked before the search: a bad one costs no search
        if (a.expect && a['write-expect']) throw new UsageError('--expect and --write-expect cannot be combined (compare with a file, or record one)');
        if (a['write-expect'] && bounds.timeLimit !== undefined) throw new UsageError('--write-expect cannot record verdicts under --time-limit: they would depend on the speed of the machine');
        if (a['write-expect']) writableFile('write-expect', a['write-expect']);
        if (a.junit) writableFile('junit', a.junit);
        const expectation = a.expect ? loadExpect(a.expect, { config, bounds, variants, invariants: a.invariant }) : undefined;
        if (a['trace-dir']) mkdirSync(a['trace-dir'], { recursive: true });
        if (a.report !== undefined) writableFile('report', a.report);
        const progress = a.quiet ? undefined : progressPrinter(io, { maxStates: bounds.maxStates, timeLimit: bounds.timeLimit, scope: 'this variant' });
        let report;
        try {
          report = runVerify({
          config,
          variants,
          invariants: a.invariant,
          ...bounds,
          traceDir: a['trace-dir'] ?? null,
          progress: progress ? (v, p) => progress(p, v) : undefined,
          progressIntervalMs: nonNegative('progress-every', a['progress-every'])! * 1000,
          engine: a.engine,
          workers: workersOption(a.workers, { por: a.por }),
          por: a.por,
          variantSources: names,
          });
        } finally {
          progress?.done();
        }
        const comparison = expectation ? compareExpect(expectation, report) : undefined;
        if (a['write-expect']) writeExpect(a['write-expect'], report);
        if (a.junit) writeFileSync(a.junit, junitXml(report, comparison));
        if (a.report !== undefined) writeReport(a.report, verifyReportInput(report, ['pkvm-check', ...argv].join(' ')));
        code = printVerify({ ...report, reportFile: a.report }, a.json, io, {
          configFile,
          defaultsDiffer: differencesInEffect('verify', { host: a.host, depth: a.depth, iotlb: a.iotlb, cpus: a.cpus }),
          steps: a.steps,
          expect: comparison,
          wroteExpect: a['write-expect'],
          junit: a.junit,
        });
      },
    )
    .command(
      'diff <a> <b>',
      'explore two variants together over the same sequences of operations and report the shortest one after which they disagree',
      (y) =>
        withProgress(withConfigFile(withBounds(y, 'diff'), 'diff', usedConfig))
          .example(EXAMPLES.diff)
          .epilog(EPILOG)
          .positional('a', { type: 'string', demandOption: true, describe: 'a variant (name or module path)' })
          .positional('b', { type: 'string', demandOption: true, describe: 'another variant' })
          .option('depth', { type: 'number', describe: 'do not explore beyond this many steps', group: 'Search:' })
          .option('max-states', { type: 'number', describe: 'stop after this many distinct state pairs', group: 'Search:' })
          .option('time-limit', { type: 'number', describe: 'stop after this many seconds', group: 'Search:' })
          .option('trace-out', { type: 'string', default: 'pkvm-check-diff.json', describe: 'where to write the diverging sequence (a trace of the first variant)', group: 'Output:' })
          .option('trace', { type: 'boolean', default: true, describe: 'write the trace (--no-trace: do not)', group: 'Output:' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout', group: 'Output:' })
          .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines on stderr', group: 'Output:' })
          .option('steps', { type: 'boolean', default: false, describe: "with --json: each trace's steps inline (traceSteps), not only the trace file's name", group: 'Output:' })
          .option('engine', { type: 'string', choices: ['compiled', 'packed', 'readable'], describe: 'state representation (default: compiled where both variants allow it)', group: 'Search:' })
          .option('workers', { type: 'number', default: 1, describe: 'worker threads of the breadth-first search (same results as 1)', group: 'Search:' })
          .option('typecheck', { type: 'boolean', default: false, describe: 'type-check a variant given as a TypeScript file before the run (exit 2 on type errors)', group: 'Model:' }),
      async (a) => {
        const config = configFromArgs(a as unknown as BoundArgs, 'diff');
        stepsNeedJson(a);
        if (!typecheckFirst(a.typecheck, [a.a as string, a.b as string], io)) return void (code = EXIT.usage);
        if (a.trace) writableFile('trace-out', a['trace-out']);
        const maxStates = wholeNumber('max-states', a['max-states'], 1);
        const timeLimit = nonNegative('time-limit', a['time-limit']);
        const progress = a.quiet ? undefined : progressPrinter(io, { maxStates, timeLimit });
        let report;
        try {
          report = runDiff({
          workers: workersOption(a.workers),
          sources: { a: a.a as string, b: a.b as string },
          a: await loadVariant(a.a as string),
          b: await loadVariant(a.b as string),
          config,
          depth: depthFor('diff', a.depth),
          maxStates,
          timeLimit,
          traceOut: a.trace ? a['trace-out'] : null,
          progress,
          progressIntervalMs: nonNegative('progress-every', a['progress-every'])! * 1000,
          engine: a.engine,
          });
        } finally {
          progress?.done();
        }
        code = printDiff(report, a.json, io, { configFile, steps: a.steps });
      },
    )
    .command(
      'replay <file>',
      're-execute a trace file step by step and say whether the same violation happens (optionally on another variant)',
      (y) =>
        withVariant(y)
          .example(EXAMPLES.replay)
          .epilog(EPILOG)
          .positional('file', { type: 'string', demandOption: true, describe: 'a trace file written by check, native or ITF (told apart by content)' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout' }),
      async (a) => {
        const report = await runReplay(a.file as string, a.variant ? await loadVariant(a.variant) : null, (name) => loadVariant(name));
        code = printReplay(report, a.json, io);
      },
    )
    .command(
      'export <trace>',
      'convert a trace file (native or ITF) to ITF, Graphviz DOT or Mermaid',
      (y) =>
        withVariant(y)
          .positional('trace', { type: 'string', demandOption: true, describe: 'a trace file written by check, native or ITF' })
          .option('to', { type: 'string', choices: EXPORT_FORMATS, demandOption: true, describe: 'itf (every state, for Apalache/Quint tooling; replay reads it), dot or mermaid (the states and steps drawn)' })
          .option('out', { type: 'string', describe: 'write into this file (default: stdout)' }),
      async (a) => {
        if (a.out) writableFile('out', a.out);
        const report = await runExport({ file: a.trace as string, to: a.to as ExportFormat, out: a.out ?? null, variant: a.variant ? await loadVariant(a.variant) : null, resolve: (name) => loadVariant(name) });
        code = printText(report, io);
      },
    )
    .command(
      'graph',
      `draw the state graph of a small configuration (at most ${GRAPH_STATE_LIMIT} states) as Graphviz DOT or Mermaid, violating states and steps in red`,
      (y) =>
        withVariant(withBounds(y))
          .option('format', { type: 'string', choices: DIAGRAM_FORMATS, default: 'dot', describe: 'dot (Graphviz) or mermaid', group: 'Output:' })
          .option('out', { type: 'string', describe: 'write into this file (default: stdout)', group: 'Output:' })
          .option('depth', { type: 'number', describe: 'do not follow the transitions of states at this depth', group: 'Search:' })
          .option('max-states', { type: 'number', default: 100, describe: `refuse graphs of more states (at most ${GRAPH_STATE_LIMIT})`, group: 'Search:' })
          .option('invariant', { type: 'string', array: true, describe: 'mark violations of these invariants only (default: all)', group: 'Search:' }),
      async (a) => {
        if (a.out) writableFile('out', a.out);
        const report = runGraph({
          config: configFromArgs(a as unknown as BoundArgs),
          variant: await loadVariant(a.variant),
          invariants: a.invariant,
          depth: wholeNumber('depth', a.depth, 0),
          maxStates: wholeNumber('max-states', a['max-states'], 1)!,
          format: a.format as DiagramFormat,
          out: a.out ?? null,
        });
        code = printText(report, io);
      },
    )
    .command(
      'shrink <file>',
      "shrink a trace file's violation: the same invariant on fewer pages, domains, guests, CPUs, IOVA/IPA slots and steps",
      (y) =>
        withVariant(y)
          .example(EXAMPLES.shrink)
          .epilog(EPILOG)
          .positional('file', { type: 'string', demandOption: true, describe: 'a trace file written by check (native or ITF)' })
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
          .example(EXAMPLES.typecheck)
          .epilog(EPILOG)
          .positional('files', { type: 'string', array: true, demandOption: true, describe: 'variant modules (.ts)' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout' }),
      (a) => {
        code = printTypecheck(runTypecheck(a.files as string[]), a.json, io);
      },
    )
    .command(
      'list <what>',
      'list the variants, invariants, operations, pieces (replaceable kernel functions) or host behaviours',
      (y) => y.example(EXAMPLES.list).epilog(EPILOG).positional('what', { choices: LISTS, demandOption: true }).option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout' }),
      (a) => {
        code = printList(a.what as ListWhat, a.json, io);
      },
    )
    .option('debug', { type: 'boolean', default: false, describe: 'print stack traces of errors' })
    .option('color', { type: 'boolean', describe: 'colour the verdicts and headers (default: on a terminal, unless NO_COLOR is set; --no-color: never)' })
    .example(EXAMPLES.top)
    .epilog(EPILOG)
    .demandCommand(1, `name a command: ${COMMANDS.join(', ')}`)
    .recommendCommands()
    .strict()
    .help()
    .alias('h', 'help')
    .version('0.1.0')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      // a mistyped command: yargs suggests the nearest one (recommendCommands), or finds none
      const first = argv.find((x) => !x.startsWith('-'));
      const typo = /^Did you mean (\S+)\?$/.exec(msg);
      if (typo) throw new UsageError(`unknown command '${first}': did you mean ${typo[1]}?`);
      if (first && msg === `Unknown argument: ${first}` && argv.indexOf(first) === 0) throw new UsageError(`unknown command '${first}' (the commands: ${COMMANDS.join(', ')})`);
      throw new UsageError(msg.replace(/\s*\n\s*/g, ' '));
    });

  try {
    // with a callback yargs hands --help and --version text over instead of printing it: it goes to io
    await parser.parseAsync(argv, {}, (err, _argv, output) => {
      if (!err && output) io.out(output);
    });
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
