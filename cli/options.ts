/** Option builders shared by the commands, and the translation of flags into a configuration. */
import type { Argv } from 'yargs';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, DEFAULT_ENDPOINTS, HOST_BEHAVIOURS, type HostBehaviour, type PkvmConfig, validateConfig } from '../model/config.ts';
import { BUILTIN_VARIANTS } from '../model/variants/index.ts';
import { UsageError } from './errors.ts';
import { COMMAND_DEFAULTS, defaultDescription, iotlbFor, type SearchCommand } from './defaults.ts';

/** The model bound options; the host's and the IOTLB's defaults are the command's (defaults.ts). */
export function withBounds<T>(y: Argv<T>, command: SearchCommand = 'check') {
  return y
    .option('ram-pages', { type: 'number', default: DEFAULT_CONFIG.ramPages, describe: 'RAM pages (one memblock region)', group: 'Model bounds:' })
    .option('mmio-pages', { type: 'number', default: DEFAULT_CONFIG.mmioPages, describe: 'MMIO pages, after RAM', group: 'Model bounds:' })
    .option('mmio-backed', { type: 'number', default: DEFAULT_CONFIG.mmioBacked, describe: 'MMIO pages (the first ones) whose hyp vmemmap entry is backed', group: 'Model bounds:' })
    .option('domains', { type: 'number', default: DEFAULT_CONFIG.domains, describe: 'SMMU domains', group: 'Model bounds:' })
    .option('iovas', { type: 'number', default: DEFAULT_CONFIG.iovas, describe: 'IOVA pages per domain (a power of two; 2 pages per block)', group: 'Model bounds:' })
    .option('guests', { type: 'number', default: DEFAULT_CONFIG.guests, describe: 'guests', group: 'Model bounds:' })
    .option('guest-ipas', { type: 'number', default: DEFAULT_CONFIG.guestIpas, describe: 'IPA pages per guest', group: 'Model bounds:' })
    .option('refcount-bits', { type: 'number', default: DEFAULT_CONFIG.refcountBits, describe: 'width of hyp_page.refcount', group: 'Model bounds:' })
    .option('refcount-helpers', { type: 'string', choices: ['atomic', 'upstream'], describe: "hyp_page refcount helpers: the seed's base's atomic ones (default), or upstream's (BUG at the maximum, at 0, and in hyp_set_page_refcounted)", group: 'Model bounds:' })
    .option('lock-ranks', { type: 'string', choices: ['shared', 'distinct'], describe: "lock-order ranks: the seed's tree (default: pkvm_pgd_lock and a VM's lock never together), or the later trees' (host, hyp, then a VM's lock)", group: 'Model bounds:' })
    .option('max-range', { type: 'number', default: DEFAULT_CONFIG.maxRange, describe: 'largest range (pages) a call names', group: 'Model bounds:' })
    .option('max-pins', { type: 'number', default: DEFAULT_CONFIG.maxPins, describe: 'most pins of one page', group: 'Model bounds:' })
    .option('host', { type: 'string', defaultDescription: defaultDescription(command, 'host'), choices: Object.keys(HOST_BEHAVIOURS), describe: 'host behaviour', group: 'Model bounds:' })
    .option('cpus', { type: 'number', default: 1, describe: 'CPUs: 1 runs each call atomically; 2 or more interleave their steps', group: 'Concurrency:' })
    .option('iotlb', { type: 'boolean', defaultDescription: defaultDescription(command, 'iotlb'), describe: 'model the SMMU IOTLBs (--no-iotlb: off)', group: 'Concurrency:' })
    .option('preemptions', { type: 'number', describe: 'context bound: at most this many preemptions per path', group: 'Concurrency:' })
    .option('step-budget', { type: 'number', default: DEFAULT_CONFIG.stepBudget, describe: 'state accesses one step may make; a step that goes past it is kernel code that does not return (no-hang)', group: 'Model bounds:' })
    .option('memcache', { type: 'number', default: DEFAULT_CONFIG.memcache, describe: "pages the host may give the SMMU driver's per-CPU memcache, from which io-pgtable table pages come (0: table pages are not modelled)", group: 'Model bounds:' })
    .option('domain-lifecycle', { type: 'boolean', describe: 'SMMU domains are allocated, attached, detached and freed by hypercalls (default: pre-allocated, a device on each)', group: 'Model bounds:' })
    .option('endpoints', { type: 'number', describe: `endpoints that can be attached to domains, with --domain-lifecycle (default ${DEFAULT_ENDPOINTS})`, group: 'Model bounds:' })
    .option('cpu-log', { type: 'number', default: DEFAULT_CONFIG.cpuLog, describe: "values a CPU's call record holds (what the call read so far); a call that needs more stops the check", group: 'Concurrency:' });
}

/** How often a search reports its progress. */
export function withProgress<T>(y: Argv<T>) {
  return y.option('progress-every', { type: 'number', default: 2, describe: 'seconds between progress reports on stderr (a block redrawn in place on a terminal, a line otherwise)', group: 'Output:' });
}

export function withVariant<T>(y: Argv<T>) {
  return y.option('variant', { type: 'string', describe: `variant of the protocol: a built-in one (${BUILTIN_VARIANTS.map((v) => v.name).join(', ')}) or the path of a variant module`, group: 'Model:' });
}

export interface BoundArgs {
  ramPages: number;
  mmioPages: number;
  mmioBacked: number;
  domains: number;
  iovas: number;
  guests: number;
  guestIpas: number;
  refcountBits: number;
  refcountHelpers?: string;
  lockRanks?: string;
  maxRange: number;
  maxPins: number;
  host?: string;
  cpus?: number;
  iotlb?: boolean;
  preemptions?: number;
  cpuLog?: number;
  stepBudget?: number;
  memcache?: number;
  domainLifecycle?: boolean;
  endpoints?: number;
}

/** The configuration the bound options give, with the command's defaults for what they leave unset. */
export function configFromArgs(a: BoundArgs, command: SearchCommand = 'check'): PkvmConfig {
  const defaults = COMMAND_DEFAULTS[command];
  try {
    return validateConfig({
      ramPages: a.ramPages,
      mmioPages: a.mmioPages,
      mmioBacked: a.mmioBacked,
      domains: a.domains,
      iovas: a.iovas,
      guests: a.guests,
      guestIpas: a.guestIpas,
      refcountBits: a.refcountBits,
      refcountHelpers: a.refcountHelpers as PkvmConfig['refcountHelpers'],
      lockRanks: a.lockRanks as PkvmConfig['lockRanks'],
      maxRange: a.maxRange,
      maxPins: a.maxPins,
      host: (a.host ?? defaults.host) as HostBehaviour,
      cpus: a.cpus ?? 1,
      iotlb: a.iotlb ?? iotlbFor(defaults, a.cpus ?? 1),
      preemptions: a.preemptions ?? -1,
      cpuLog: a.cpuLog ?? DEFAULT_CONFIG.cpuLog,
      stepBudget: a.stepBudget ?? DEFAULT_CONFIG.stepBudget,
      memcache: a.memcache ?? DEFAULT_CONFIG.memcache,
      domainLifecycle: a.domainLifecycle,
      endpoints: a.endpoints,
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** The depth bound: the option's, or the command's default. */
export function depthFor(command: SearchCommand, depth: number | undefined): number | undefined {
  return wholeNumber('depth', depth ?? COMMAND_DEFAULTS[command].depth, 0);
}

export function nonNegative(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isFinite(v) || v < 0) throw new UsageError(`--${name} must be a non-negative number (got ${v})`);
  return v;
}

/** An optional whole number of at least `min` (a depth, a state bound). */
export function wholeNumber(name: string, v: number | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min) throw new UsageError(`--${name} must be an integer of at least ${min} (got ${v})`);
  return v;
}

export function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`--${name} must be a positive number (got ${v})`);
  return v;
}

/**
 * A file the command will write once its search is done: its folder must exist and be writable
 * now, so that a long run never ends with a result it cannot save.
 */
export function writableFile(flag: string, file: string): void {
  if (file === '') throw new UsageError(`--${flag} needs a file name`);
  const dir = dirname(resolve(file));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UsageError(`--${flag} ${file}: the folder ${dir} does not exist`);
  }
  if (!isDir) throw new UsageError(`--${flag} ${file}: ${dir} is not a folder`);
  try {
    accessSync(dir, fsConstants.W_OK);
  } catch {
    throw new UsageError(`--${flag} ${file}: the folder ${dir} is not writable`);
  }
  try {
    if (statSync(file).isDirectory()) throw new UsageError(`--${flag} ${file} is a folder, not a file`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
}
