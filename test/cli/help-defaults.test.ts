/**
 * The command line for CI: help with examples and an epilog, a mistyped command's suggestion,
 * and the defaults that differ between check and verify, said in help and in verify's header.
 */
import { describe, expect, it } from 'vitest';
import { COMMAND_DEFAULTS, differenceLine, differencesInEffect } from '../../cli/defaults.ts';
import { configFromArgs, type BoundArgs } from '../../cli/options.ts';
import { DEFAULT_CONFIG } from '../../model/config.ts';
import { EXAMPLES } from '../../cli/help.ts';
import { runCli as run } from '../run-cli.ts';

const COMMANDS = ['check', 'verify', 'diff', 'replay', 'list'] as const;

describe('--help', () => {
  it('the top-level help shows the examples of every command, the exit codes and where the docs are', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^Examples:$/m);
    for (const ex of ['check --all --depth 8', 'check --variant ./my-variant.ts', 'verify --variant rfc-v1 --variant rfc-v1-u62', 'diff rfc-v1 rfc-v1-fixed', 'replay pkvm-check-trace.json', 'list variants'])
      expect(r.out).toContain(`pkvm-check ${ex}`);
    expect(r.out.replace(/\s+/g, ' ')).toMatch(/Exit codes: 0 no violation within the bounds .*, 1 a violation .*, 2 bad usage or bad input, 3 internal error, 130 interrupted/);
    expect(r.out).toMatch(/130 interrupted/);
    expect(r.out).toContain('docs/cli.md');
  });

  for (const cmd of COMMANDS)
    it(`${cmd} --help has its own examples and the epilog`, async () => {
      const r = await run([cmd, '--help']);
      expect(r.code).toBe(0);
      const examples = r.out.split(/^Examples:$/m)[1];
      expect(examples).toBeDefined();
      expect(examples).toMatch(new RegExp(`^  pkvm-check ${cmd}\\b`, 'm'));
      expect(r.out).toMatch(/Exit codes: 0 /);
      // every flag an example uses is an option of the command
      const flags = new Set(EXAMPLES[cmd].flatMap(([c]) => [...c.matchAll(/--(?:no-)?([a-z-]+)/g)].map((m) => m[1])));
      for (const f of flags) expect(r.out, `--${f} in an example of ${cmd}`).toMatch(new RegExp(`--${f}\\b`));
    });

  it("check's and verify's help state each default that differs, and verify lists the host choices once", async () => {
    const flat = (t: string) => t.replace(/\s+/g, ' ');
    const c = await run(['check', '--help']);
    expect(flat(c.out)).toMatch(/check defaults differ from verify: --host driver \(verify: --host iommu\), no depth bound \(verify: --depth 8\), --iotlb with --cpus 2 or more \(verify: --iotlb\)/);
    expect(c.out).toMatch(/--host .*\[default: "driver"\]/s);
    const v = await run(['verify', '--help']);
    expect(flat(v.out)).toMatch(/verify defaults differ from check: --host iommu \(check: --host driver\), --depth 8 \(check: no depth bound\), --iotlb \(check: --iotlb with --cpus 2 or more\)/);
    expect(v.out).toMatch(/--host .*\[default: "iommu"\]/s);
    expect(v.out).toMatch(/--depth .*\[default: 8\]/);
    expect(v.out.match(/"adversarial"/g)).toHaveLength(1);
  });
});

describe('a mistyped command', () => {
  for (const [typo, meant] of [
    ['chek', 'check'],
    ['verfy', 'verify'],
    ['lst', 'list'],
    ['replya', 'replay'],
  ])
    it(`${typo} suggests ${meant}: one line, exit 2`, async () => {
      const r = await run([typo, '--depth', '3']);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toBe(`pkvm-check: unknown command '${typo}': did you mean ${meant}?\n`);
    });

  it('a word near no command names the commands', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toBe("pkvm-check: unknown command 'frobnicate' (the commands: check, verify, diff, replay, shrink, typecheck, list)\n");
  });

  it('an unknown option of a known command is still reported as such', async () => {
    const r = await run(['check', '--dept', '3']);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/Unknown argument: dept/);
  });
});

describe('the defaults of check and verify', () => {
  it('one table: check has the seed defaults, verify its own, with the same bounds otherwise', () => {
    // the bound options as yargs gives them when only their defaults are there
    const { host: _h, iotlb: _i, ...bounds } = DEFAULT_CONFIG;
    const args = (more: Partial<BoundArgs> = {}): BoundArgs => ({ ...bounds, ...more });
    const check = configFromArgs(args(), 'check');
    const verify = configFromArgs(args(), 'verify');
    expect(check.host).toBe('driver');
    expect(check.iotlb).toBe(false);
    expect(configFromArgs(args({ cpus: 2 }), 'check').iotlb).toBe(true);
    expect(verify.host).toBe(COMMAND_DEFAULTS.verify.host);
    expect(verify.iotlb).toBe(true);
    expect({ ...verify, host: check.host, iotlb: check.iotlb }).toEqual(check);
    expect(configFromArgs(args({ host: 'adversarial', iotlb: false }), 'verify')).toMatchObject({ host: 'adversarial', iotlb: false });
  });

  it('the differences in effect: the ones the run leaves to the defaults', () => {
    expect(differenceLine('verify', {})).toBe('verify defaults differ from check: --host iommu, --depth 8, --iotlb');
    expect(differencesInEffect('verify', { depth: 3 })).toEqual(['--host iommu', '--iotlb']);
    // with two CPUs check models the IOTLB too
    expect(differencesInEffect('verify', { cpus: 2 })).toEqual(['--host iommu', '--depth 8']);
    expect(differencesInEffect('verify', { host: 'driver', depth: 8, iotlb: false })).toEqual([]);
    expect(differencesInEffect('check', {})).toEqual([]);
    expect(differencesInEffect('diff', {})).toEqual([]);
  });

  it("verify's header says which defaults differ from check, and the run uses them", async () => {
    const r = await run(['verify', '--variant', 'rfc-v1-fixed', '--max-states', '200', '--quiet']);
    expect(r.code).toBe(0);
    const [head, second] = r.out.split('\n');
    expect(head).toMatch(/^pkvm-check verify: host iommu; .*SMMU IOTLB modelled; depth <= 8$/);
    expect(second).toBe('  verify defaults differ from check: --host iommu, --depth 8, --iotlb');
    const given = await run(['verify', '--variant', 'rfc-v1-fixed', '--depth', '2', '--host', 'driver', '--quiet']);
    expect(given.out).toMatch(/^pkvm-check verify: host driver; .*depth <= 2$/m);
    expect(given.out).toMatch(/^  verify defaults differ from check: --iotlb$/m);
    const j = JSON.parse((await run(['verify', '--variant', 'rfc-v1-fixed', '--depth', '2', '--json', '--quiet'])).out);
    expect(j.config).toMatchObject({ host: 'iommu', iotlb: true });
    expect(j.defaultsDifferFromCheck).toEqual(['--host iommu', '--iotlb']);
  });

  it("check's output does not change: no such line, the seed's defaults", async () => {
    const r = await run(['check', '--variant', 'rfc-v1-fixed', '--depth', '2', '--quiet', '--no-trace']);
    expect(r.out).not.toMatch(/defaults differ/);
    expect(r.out.split('\n')[0]).toMatch(/^pkvm-check: variant rfc-v1-fixed; host driver; .*SMMU IOTLB as tlb-invalidated/);
  });

});
