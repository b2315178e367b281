/** What --help shows besides the options: each command's examples, and the epilog (exit codes, where the docs are). */

export const COMMANDS = ['check', 'verify', 'diff', 'replay', 'shrink', 'typecheck', 'list'] as const;

type Examples = [string, string][];

const SEED: [string, string] = ['$0 check --all --depth 8', 'the seed check (npm start): every invariant rfc-v1 violates within 8 steps, with a shortest trace of each'];
const MODULE: [string, string] = ['$0 check --variant ./my-variant.ts', 'check a variant module of your own (TypeScript, no build step; docs/variants.md)'];
const CHOSEN: [string, string] = ['$0 verify --variant rfc-v1 --variant rfc-v1-u62', 'the verdict matrix of chosen variants: the seed on the pKVM tree and on the upstream base of its time'];
const DIFF: [string, string] = ['$0 diff rfc-v1 rfc-v1-fixed --depth 6', 'the shortest sequence of calls after which the two variants disagree'];
const REPLAY: [string, string] = ['$0 replay pkvm-check-trace.json', 'run a counterexample again, step by step'];
const LIST: [string, string] = ['$0 list variants', 'the built-in variants, with what each one changes'];

export const EXAMPLES: Record<'top' | (typeof COMMANDS)[number], Examples> = {
  top: [SEED, MODULE, CHOSEN, DIFF, REPLAY, LIST],
  check: [
    SEED,
    MODULE,
    ['$0 check --config ci.json --json --no-trace', 'in CI: bounds and variant from a config file, one JSON object on stdout, no trace file'],
    ['$0 check --random --runs 5000 --seed 7', '5,000 random walks of 50 steps, reproducible from the seed'],
    ['$0 check --ram-pages 4 --all --time-limit 600', 'a larger model for at most 10 minutes (the progress gives the ETA of that bound)'],
  ],
  verify: [
    ['$0 verify', "every built-in variant, with verify's defaults (--host iommu, --depth 8, --iotlb)"],
    CHOSEN,
    ['$0 verify --trace-dir out', 'the shortest trace of each violation written into out/ (out/rfc-v1.json, ...)'],
    ['$0 verify --variant ./my-variant.ts --json', "a variant module's row of the matrix, as one JSON object"],
    ['$0 verify --host driver --no-iotlb --depth 6', "verify with check's host and IOTLB"],
  ],
  diff: [DIFF, ['$0 diff rfc-v1 ./my-variant.ts --host iommu', 'a variant module against the seed, with the untrusted IOMMU host']],
  replay: [REPLAY, ['$0 replay out/rfc-v1.json --variant rfc-v1-u62', 'the same steps on another variant: does the violation happen there too?']],
  shrink: [
    ['$0 shrink pkvm-check-trace.json', 'the same violation on fewer pages, domains, guests, CPUs and steps, written to pkvm-check-trace.shrunk.json'],
    ['$0 check --all --shrink', 'check, and shrink every trace before it is written'],
  ],
  typecheck: [
    ['$0 typecheck ./my-variant.ts', "type-check a variant module against pkvm-check's API (errors as file:line:col)"],
    ['$0 check --variant ./my-variant.ts --typecheck', 'type-check the module, then check it'],
  ],
  list: [LIST, ['$0 list invariants', 'the invariants, by name and kind'], ['$0 list hosts', 'the host behaviours --host takes']],
};

export const EPILOG = [
  'Exit codes: 0 no violation within the bounds (diff: the variants agree; replay: the violation did not happen again), 1 a violation (diff: they diverge; replay: reproduced), 2 bad usage or bad input, 3 internal error, 130 interrupted (Ctrl-C) before any violation.',
  'Docs: docs/cli.md (commands, defaults, config file, progress and colour), docs/variants.md (writing a variant), README.md.',
].join('\n');

/** A command's epilog: what it says of its own defaults, then the common one. */
export const epilogOf = (own: string | null): string => (own ? `${own}\n\n${EPILOG}` : EPILOG);
