/**
 * The defaults that depend on the command, in one table: the commands' options, their help text
 * and verify's header line all read it. Every other option has one default for every command
 * (the model bounds' come from DEFAULT_CONFIG).
 *
 * verify keeps its own: it judges every variant, and some of their bugs show only with the
 * untrusted host of the IOMMU hypercalls, within 8 steps, or with the IOTLB modelled (a missing
 * TLB invalidation). check and diff keep the seed's (the Linux driver as host, no depth bound,
 * no IOTLB on one CPU), which `npm start` and the recorded results rely on.
 */
import { DEFAULT_CONFIG, type HostBehaviour } from '../model/config.ts';

export interface CommandDefaults {
  readonly host: HostBehaviour;
  /** The depth bound (undefined: none). */
  readonly depth: number | undefined;
  /** Model the SMMU IOTLBs: always, never, or 'with-cpus' (with 2 CPUs or more). */
  readonly iotlb: boolean | 'with-cpus';
}

const CHECK: CommandDefaults = { host: DEFAULT_CONFIG.host, depth: undefined, iotlb: 'with-cpus' };

export const COMMAND_DEFAULTS = {
  check: CHECK,
  diff: CHECK,
  verify: { host: 'iommu', depth: 8, iotlb: true },
} as const satisfies Record<string, CommandDefaults>;

export type SearchCommand = keyof typeof COMMAND_DEFAULTS;

/** What the user set of the options in the table (undefined: not set, on the command line or in a config file). */
export interface GivenDefaults {
  readonly host?: string;
  readonly depth?: number;
  readonly iotlb?: boolean;
  readonly cpus?: number;
}

export const iotlbFor = (d: CommandDefaults, cpus: number): boolean => (d.iotlb === 'with-cpus' ? cpus > 1 : d.iotlb);

/** Each default as a flag would set it: `--host iommu`, `--depth 8`, `--iotlb`. */
function asFlag(key: keyof CommandDefaults, d: CommandDefaults): string {
  switch (key) {
    case 'host':
      return `--host ${d.host}`;
    case 'depth':
      return d.depth === undefined ? 'no depth bound' : `--depth ${d.depth}`;
    case 'iotlb':
      return d.iotlb === 'with-cpus' ? '--iotlb with --cpus 2 or more' : d.iotlb ? '--iotlb' : '--no-iotlb';
  }
}

const KEYS: readonly (keyof CommandDefaults)[] = ['host', 'depth', 'iotlb'];

/**
 * The defaults of `command` that this run uses and that make it differ from check with the same
 * options, as flags (`--host iommu`, `--depth 8`, `--iotlb`); none for check itself.
 */
export function differencesInEffect(command: SearchCommand, given: GivenDefaults): string[] {
  const mine: CommandDefaults = COMMAND_DEFAULTS[command];
  const cpus = given.cpus ?? 1;
  const out: string[] = [];
  for (const key of KEYS) {
    if (given[key] !== undefined) continue;
    const differs = key === 'iotlb' ? iotlbFor(mine, cpus) !== iotlbFor(CHECK, cpus) : mine[key] !== CHECK[key];
    if (differs) out.push(asFlag(key, mine));
  }
  return out;
}

/** The run's header line, or null when nothing differs. */
export function differenceLine(command: SearchCommand, given: GivenDefaults): string | null {
  const d = differencesInEffect(command, given);
  return d.length ? `${command} defaults differ from check: ${d.join(', ')}` : null;
}

/** For --help: each default of `command` that differs from the other command's (check <-> verify). */
export function differencesForHelp(command: SearchCommand): string | null {
  const other: SearchCommand = command === 'verify' ? 'check' : 'verify';
  const mine: CommandDefaults = COMMAND_DEFAULTS[command];
  const theirs: CommandDefaults = COMMAND_DEFAULTS[other];
  const d = KEYS.filter((k) => mine[k] !== theirs[k]).map((k) => `${asFlag(k, mine)} (${other}: ${asFlag(k, theirs)})`);
  return d.length ? `${command} defaults differ from ${other}: ${d.join(', ')}` : null;
}

/** The default of a table option as the help's "[default: ...]" shows it. */
export function defaultDescription(command: SearchCommand, key: keyof CommandDefaults): string {
  const d: CommandDefaults = COMMAND_DEFAULTS[command];
  switch (key) {
    case 'host':
      return JSON.stringify(d.host);
    case 'depth':
      return d.depth === undefined ? 'none' : String(d.depth);
    case 'iotlb':
      return d.iotlb === 'with-cpus' ? 'with --cpus 2 or more' : String(d.iotlb);
  }
}
