/** What --help shows besides the options: each command's examples, and the epilog (exit codes, where the docs are). */

export const COMMANDS = ['check', 'verify', 'diff', 'replay', 'list'] as const;

type Examples = [string, string][];

const SEED: [string, string] = ['$0 check --all --depth 8', 'the seed check (npm start): every invariant rfc-v1 violates within 8 steps, with a shortest trace of each'];
const MODULE: [string, string] = ['$0 check --variant docs/examples/dma-passthrough.ts', 'check a variant module of your own (TypeScript, no build step)'];
const CHOSEN: [string, string] = ['$0 verify --variant rfc-v1 --variant rfc-v1-fixed', 'the verdict matrix of two variants against every invariant'];
const DIFF: [string, string] = ['$0 diff rfc-v1 rfc-v1-fixed --depth 6', 'the shortest sequence of calls after which the two variants disagree'];
const REPLAY: [string, string] = ['$0 replay pkvm-check-trace.json', 'run a counterexample again, step by step'];
const LIST: [string, string] = ['$0 list variants', 'the built-in variants, with what each one changes'];

export const EXAMPLES: Record<'top' | (typeof COMMANDS)[number], Examples> = {
  top: [SEED, MODULE, CHOSEN, DIFF, REPLAY, LIST],
  check: [
    SEED,
    MODULE,
    ['$0 check --config ci/pkvm-check.config.json --json --no-trace', 'in CI: bounds and variant from a config file, one JSON object on stdout'],
    ['$0 check --random --runs 5000 --depth 40 --seed 7', 'random walks of 40 steps, reproducible from the seed'],
    ['$0 check --variant rfc-v1-fixed --max-states 2000000 --time-limit 600', 'a larger space under a state and a time bound (the progress shows an ETA)'],
  ],
  verify: [
    ['$0 verify', "every built-in variant, with verify's defaults (--host iommu, --depth 8, --iotlb)"],
    CHOSEN,
    ['$0 verify --variant docs/examples/dma-passthrough.ts --trace-dir traces', 'a variant module, with the shortest trace of each violation written into traces/'],
    ['$0 verify --host driver --no-iotlb --depth 6', "verify with check's host and IOTLB"],
  ],
  diff: [DIFF, ['$0 diff rfc-v1 docs/examples/dma-passthrough.ts --host iommu', 'a variant module against the seed, with the untrusted IOMMU host']],
  replay: [REPLAY, ['$0 replay pkvm-check-trace.json --variant rfc-v1-fixed', 'the same steps on another variant: does the fix stop the violation?']],
  list: [LIST, ['$0 list invariants', 'the invariants, by name and kind'], ['$0 list hosts', 'the host behaviours --host takes']],
};

export const EPILOG = [
  'Exit codes: 0 no violation within the bounds (diff: the variants agree; replay: the violation did not happen again), 1 a violation (diff: they diverge; replay: reproduced), 2 bad usage or bad input, 3 internal error, 130 interrupted (Ctrl-C) before any violation.',
  'Docs: docs/cli.md (commands, defaults, config file, progress and colour), docs/variants.md (writing a variant), README.md.',
].join('\n');

/** A command's epilog: what it says of its own defaults, then the common one. */
export const epilogOf = (own: string | null): string => (own ? `${own}\n\n${EPILOG}` : EPILOG);
