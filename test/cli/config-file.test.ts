/**
 * The config file (pkvm-check.config.json or --config): the options it sets, the command line
 * over it, variant modules found relative to it, and bad files refused in one line (exit 2).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE, CONFIG_SCHEMA } from '../../cli/config-file.ts';
import { withBounds } from '../../cli/options.ts';
import { CONFIG_LIMITS, HOST_BEHAVIOURS } from '../../model/config.ts';
import { runCli as run } from '../run-cli.ts';

const EXAMPLE = join(__dirname, '..', '..', 'docs', 'examples', 'minimal.ts');

let dir: string;
/** A config file in a folder of its own, with a variant module beside it (in variants/). */
function project(config: unknown, name = CONFIG_FILE): string {
  const d = mkdtempSync(join(dir, 'p-'));
  mkdirSync(join(d, 'variants'));
  copyFileSync(EXAMPLE, join(d, 'variants', 'mine.ts'));
  const file = join(d, name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-config-'));
});

describe('what the file sets', () => {
  it('bounds, search bounds and check\'s variant (a module path relative to the file), and the header names the file', async () => {
    const file = project({ $schema: '../schemas/config.schema.json', bounds: { host: 'iommu', 'ram-pages': 3, iotlb: true }, search: { depth: 2 }, check: { variant: 'variants/mine.ts' } });
    const r = await run(['check', '--config', file, '--quiet', '--no-trace', '--json']);
    expect(r.err).toBe('');
    const j = JSON.parse(r.out);
    expect(j.configFile).toBe(file);
    expect(j.variant).toBe('what-if-host-side-only');
    expect(j.config).toMatchObject({ host: 'iommu', ramPages: 3, iotlb: true });
    expect(j.stats.depth).toBe(2);
    const text = await run(['check', '--config', file, '--quiet', '--no-trace']);
    expect(text.out.split('\n')[1]).toBe(`  config file: ${file}`);
  });

  it('the command line overrides the file, option by option (negated booleans and arrays too)', async () => {
    const file = project({ bounds: { host: 'iommu', 'ram-pages': 3, iotlb: true }, search: { depth: 2 }, check: { variant: 'variants/mine.ts' } });
    const j = JSON.parse((await run(['check', '--config', file, '--host', 'driver', '--depth', '1', '--no-iotlb', '--variant', 'rfc-v1-fixed', '--quiet', '--no-trace', '--json'])).out);
    expect(j.variant).toBe('rfc-v1-fixed');
    expect(j.config).toMatchObject({ host: 'driver', ramPages: 3, iotlb: false });
    expect(j.stats.depth).toBe(1);
  });

  it("verify's variants (paths relative to the file), its defaults overridden by the file, and --variant over the list", async () => {
    const file = project({ bounds: { host: 'driver' }, search: { depth: 1 }, verify: { variants: ['rfc-v1-fixed', './variants/mine.ts'] } });
    const r = await run(['verify', '--config', file, '--quiet', '--json']);
    expect(r.err).toBe('');
    const j = JSON.parse(r.out);
    expect(j.variants.map((v: { variant: string }) => v.variant)).toEqual(['rfc-v1-fixed', 'what-if-host-side-only']);
    expect(j.config.host).toBe('driver');
    expect(j.bounds.depth).toBe(1);
    // what the file set is not a default: only the IOTLB is left to verify's own
    expect(j.defaultsDifferFromCheck).toEqual(['--iotlb']);
    const one = JSON.parse((await run(['verify', '--config', file, '--variant', 'rfc-v1', '--quiet', '--json'])).out);
    expect(one.variants.map((v: { variant: string }) => v.variant)).toEqual(['rfc-v1']);
  });

  it('diff reads the bounds and search bounds (no variants)', async () => {
    const file = project({ bounds: { host: 'iommu' }, search: { depth: 2 }, check: { variant: 'variants/mine.ts' } });
    const j = JSON.parse((await run(['diff', 'rfc-v1', 'rfc-v1-fixed', '--config', file, '--quiet', '--no-trace', '--json'])).out);
    expect(j.config.host).toBe('iommu');
    expect(j.configFile).toBe(file);
  });

  it('pkvm-check.config.json in the current folder is read without --config, and said so', async () => {
    const file = project({ bounds: { 'ram-pages': 3 }, search: { depth: 1 } });
    const cwd = process.cwd();
    process.chdir(join(file, '..'));
    try {
      const r = await run(['check', '--variant', 'rfc-v1-fixed', '--quiet', '--no-trace']);
      expect(r.err).toBe('');
      expect(r.out).toMatch(/^pkvm-check: variant rfc-v1-fixed; host driver; 3 RAM/);
      expect(r.out).toContain(`  config file: ${file}`);
      expect(r.out).toMatch(/depth <= 1/);
    } finally {
      process.chdir(cwd);
    }
    // elsewhere there is none
    const r = await run(['check', '--variant', 'rfc-v1-fixed', '--depth', '1', '--quiet', '--no-trace']);
    expect(r.out).not.toMatch(/config file/);
    expect(r.out).toMatch(/; 2 RAM/);
  });
});

describe('bad files: one line naming the file and the key, exit 2', () => {
  const cases: [string, unknown, RegExp][] = [
    ['an unknown key', { bounds: { ram_pages: 3 } }, /unknown key bounds\.ram_pages \(known in bounds: ram-pages, /],
    ['a key in the wrong section', { bounds: { depth: 3 } }, /unknown key bounds\.depth /],
    ['an unknown section', { checks: {} }, /unknown key checks \(known: bounds, search, check, verify\)/],
    ['a wrong type', { search: { depth: '3' } }, /search\.depth must be an integer \(got "3"\)/],
    ['a boolean given as a string', { bounds: { iotlb: 'yes' } }, /bounds\.iotlb must be true or false \(got "yes"\)/],
    ['an unknown host', { bounds: { host: 'evil' } }, /bounds\.host must be one of driver, iommu, adversarial \(got "evil"\)/],
    ['out of range', { bounds: { cpus: 9 } }, /bounds\.cpus must be <= 4 \(got 9\)/],
    ['an empty list of variants', { verify: { variants: [] } }, /verify\.variants must name at least 1 variant/],
    ['a variant that is not a string', { verify: { variants: ['rfc-v1', 3] } }, /verify\.variants\[1\] must be a string \(got 3\)/],
    ['not an object', '[1, 2]', /the file must hold one JSON object/],
    ['not JSON', '{ "bounds": { "host": "iommu", } }', /not valid JSON \(/],
  ];
  for (const [name, content, message] of cases)
    it(name, async () => {
      const file = project(content, 'bad.json');
      const r = await run(['check', '--config', file, '--depth', '1', '--quiet', '--no-trace']);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(new RegExp(`^pkvm-check: config file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
      expect(r.err).toMatch(message);
    });

  it('a file that does not exist', async () => {
    const r = await run(['verify', '--config', join(dir, 'nope.json'), '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`pkvm-check: config file ${join(dir, 'nope.json')}: cannot read it (ENOENT)\n`);
  });

  it('a variant module the file names that does not exist is reported like one on the command line', async () => {
    const file = project({ check: { variant: 'variants/gone.ts' } });
    const r = await run(['check', '--config', file, '--quiet', '--no-trace']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`pkvm-check: variant module ${join(file, '..', 'variants', 'gone.ts')} does not exist\n`);
  });

  it('a bad file does not stop --help', async () => {
    const file = project({ bounds: { nope: 1 } }, 'bad.json');
    const r = await run(['check', '--config', file, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--config/);
  });
});

describe('the schema', () => {
  const schema = JSON.parse(readFileSync(CONFIG_SCHEMA, 'utf8'));
  const bounds = schema.properties.bounds.properties;

  it('has a key for every model bound option, and no other', () => {
    const options = (withBounds(yargs([]).help(false).version(false)) as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions().key;
    expect(Object.keys(bounds).sort()).toEqual(Object.keys(options).sort());
  });

  it("takes the model's hosts and limits", () => {
    expect(bounds.host.enum).toEqual(Object.keys(HOST_BEHAVIOURS));
    expect(bounds['ram-pages'].maximum).toBe(CONFIG_LIMITS.pages);
    expect(bounds.domains.maximum).toBe(CONFIG_LIMITS.domains);
    expect(Math.max(...bounds.iovas.enum)).toBe(CONFIG_LIMITS.iovas);
    expect(bounds.guests.maximum).toBe(CONFIG_LIMITS.guests);
    expect(bounds['guest-ipas'].maximum).toBe(CONFIG_LIMITS.guestIpas);
    expect([bounds['refcount-bits'].minimum, bounds['refcount-bits'].maximum]).toEqual([CONFIG_LIMITS.refcountBits.min, CONFIG_LIMITS.refcountBits.max]);
    expect(bounds['max-range'].maximum).toBe(CONFIG_LIMITS.maxRange);
    expect(bounds['max-pins'].maximum).toBe(CONFIG_LIMITS.maxPins);
    expect(bounds.cpus.maximum).toBe(CONFIG_LIMITS.cpus);
    expect(bounds['cpu-log'].maximum).toBe(CONFIG_LIMITS.cpuLog);
    expect(bounds['step-budget'].maximum).toBe(CONFIG_LIMITS.stepBudget);
  });
});
