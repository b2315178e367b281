/**
 * The config file: pkvm-check.config.json in the current folder, or --config FILE. It holds the
 * model bounds, the search bounds and the variants of check and verify, each under the name of
 * the option it sets, and is validated against schemas/config.schema.json. An option given on
 * the command line overrides the file: the file is read as the command's yargs config object,
 * which yargs applies only to the options the command line left unset, and before the defaults.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { SearchCommand } from './defaults.ts';
import { UsageError } from './errors.ts';
import { looksLikePath } from './variants.ts';

/** The file read when --config is not given, if the current folder has it. */
export const CONFIG_FILE = 'pkvm-check.config.json';

export const CONFIG_SCHEMA = new URL('../schemas/config.schema.json', import.meta.url);

export interface ConfigFile {
  readonly bounds?: Readonly<Record<string, number | string | boolean>>;
  readonly search?: Readonly<Record<'depth' | 'max-states' | 'time-limit', number | undefined>>;
  readonly check?: { readonly variant?: string };
  readonly verify?: { readonly variants?: readonly string[] };
}

let validator: ValidateFunction | null = null;

function validate(data: unknown): ErrorObject | null {
  // verbose: an error carries the value and the schema of the object it is in (to list its keys)
  validator ??= new Ajv({ verbose: true }).compile(JSON.parse(readFileSync(CONFIG_SCHEMA, 'utf8')));
  return validator(data) ? null : validator.errors![0];
}

/** `/verify/variants/0` -> `verify.variants[0]`. */
function keyName(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((name, p) => (/^\d+$/.test(p) ? `${name}[${p}]` : name ? `${name}.${p}` : p), '');
}

const KINDS: Record<string, string> = { integer: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', array: 'a list', object: 'an object' };

/** One ajv error as the end of a one-line message that names the key. */
function describe(e: ErrorObject): string {
  const key = keyName(e.instancePath);
  const got = `(got ${JSON.stringify(e.data)})`;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const known = Object.keys((e.parentSchema as { properties?: object }).properties ?? {}).filter((k) => k !== '$schema');
      return `unknown key ${key ? `${key}.` : ''}${String(params.additionalProperty)} (known${key ? ` in ${key}` : ''}: ${known.join(', ')})`;
    }
    case 'type':
      return key ? `${key} must be ${KINDS[String(params.type)] ?? String(params.type)} ${got}` : 'the file must hold one JSON object';
    case 'enum':
      return `${key} must be one of ${(params.allowedValues as unknown[]).map((v) => String(v)).join(', ')} ${got}`;
    case 'minimum':
    case 'maximum':
      return `${key} must be ${String(params.comparison)} ${String(params.limit)} ${got}`;
    case 'minItems':
      return `${key} must name at least ${String(params.limit)} variant(s)`;
    case 'minLength':
      return `${key} must not be empty`;
    default:
      return `${key || 'the file'} ${e.message ?? 'is invalid'}`;
  }
}

/**
 * Reads and validates a config file; a variant module's path is taken relative to the file's
 * folder. Bad files are UsageErrors of one line that name the file (and the key).
 */
export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`config file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`config file ${file}: not valid JSON (${e instanceof Error ? e.message.replace(/\s*\n\s*/g, ' ') : String(e)})`);
  }
  const error = validate(data);
  if (error) throw new UsageError(`config file ${file}: ${describe(error)}`);
  const c = data as ConfigFile;
  const dir = dirname(file);
  const place = (v: string) => (looksLikePath(v) ? resolve(dir, v) : v);
  return {
    ...c,
    ...(c.check?.variant !== undefined ? { check: { variant: place(c.check.variant) } } : {}),
    ...(c.verify?.variants !== undefined ? { verify: { variants: c.verify.variants.map(place) } } : {}),
  };
}

/** What the file sets of `command`'s options, by option name. */
export function configArgs(c: ConfigFile, command: SearchCommand): Record<string, unknown> {
  return {
    ...c.bounds,
    ...c.search,
    ...(command === 'check' && c.check?.variant !== undefined ? { variant: c.check.variant } : {}),
    ...(command === 'verify' && c.verify?.variants !== undefined ? { variant: c.verify.variants } : {}),
  };
}

/**
 * The --config option of a search command. `used` learns the (absolute) path of the file read,
 * for the run's header.
 */
export function withConfigFile<T>(y: Argv<T>, command: SearchCommand, used: (file: string) => void) {
  return y.option('config', {
    type: 'string',
    config: true,
    configParser: (file: string) => {
      const args = configArgs(readConfigFile(file), command);
      used(file);
      return args;
    },
    default: existsSync(CONFIG_FILE) ? CONFIG_FILE : undefined,
    defaultDescription: `${CONFIG_FILE} if the current folder has one`,
    describe: 'read bounds, search bounds and variants from this JSON file (schemas/config.schema.json); options given on the command line override it',
    group: 'Config:',
  });
}
