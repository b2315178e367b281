/**
 * verify --expect / --write-expect: recorded verdicts compare equal (exit 0); an edited verdict or
 * trace length flips the exit code to 1 with one line per change; a malformed file, an unknown
 * variant or invariant, a missing verdict or other bounds exit 2 before any search, naming the
 * problem. The shipped expected verdicts (docs/ci/expected-verdicts.json, default verify bounds)
 * validate against the shipped schema and agree with a run recomputed at a smaller depth.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_VARIANTS } from '../../model/variants/index.ts';
import { runCli as run } from '../run-cli.ts';

const ROOT = resolve(__dirname, '..', '..');
const SHIPPED = join(ROOT, 'docs', 'ci', 'expected-verdicts.json');
const SCHEMA = JSON.parse(readFileSync(join(ROOT, 'schemas', 'expect.schema.json'), 'utf8'));

type Entry = 'holds' | 'violated' | { verdict: 'holds' | 'violated'; length?: number };
interface ExpectJson {
  bounds?: { depth?: number; maxStates?: number; config: Record<string, unknown> };
  verdicts: Record<string, Record<string, Entry>>;
}
interface Cell {
  status: 'holds' | 'holds-within-bounds' | 'violated';
  length?: number;
}

let dir: string;
let recorded: string;
const VARIANTS = ['--quiet', '--variant', 'rfc-v1', '--variant', 'rfc-v1-fixed', '--variant', 'unmap-no-range-check'];
const FLAGS = [...VARIANTS, '--depth', '3'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-expect-'));
  recorded = join(dir, 'recorded.json');
  const w = await run(['verify', ...FLAGS, '--write-expect', recorded]);
  expect(w.code).toBe(0);
  expect(w.out).toContain(`expected verdicts written to ${recorded}`);
});

/** The recorded file, edited, written to a file of its own. */
function edited(name: string, edit: (x: ExpectJson) => void): string {
  const x = JSON.parse(readFileSync(recorded, 'utf8')) as ExpectJson;
  edit(x);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(x));
  return file;
}

describe('--write-expect then --expect', () => {
  it('records every variant x invariant with the bounds of the run, and valid against the schema', () => {
    const x = JSON.parse(readFileSync(recorded, 'utf8')) as ExpectJson;
    expect(Object.keys(x.verdicts)).toEqual(['rfc-v1', 'rfc-v1-fixed', 'unmap-no-range-check']);
    expect(x.bounds!.depth).toBe(3);
    expect(x.bounds!.config.host).toBe('iommu');
    expect(x.bounds!.config.iotlb).toBe(true);
    expect(x.verdicts['rfc-v1']['no-bug']).toEqual({ verdict: 'violated', length: 2 });
    expect(x.verdicts['rfc-v1-fixed']['no-bug']).toBe('holds');
    expect(new Ajv({ strict: true }).validate(SCHEMA, x)).toBe(true);
  });

  it('the same run is as expected: exit 0 although variants violate invariants', async () => {
    const r = await run(['verify', ...FLAGS, '--expect', recorded]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/expected verdicts \(.*recorded\.json\): all 45 as expected\n/);
  });

  it('a mutant claimed to hold: exit 1, one line naming variant, invariant, expected, got and the trace length', async () => {
    const file = edited('claims-holds', (x) => {
      x.verdicts['unmap-no-range-check']['dma-isolation'] = 'holds';
    });
    const r = await run(['verify', ...FLAGS, '--expect', file]);
    expect(r.code).toBe(1);
    const changed = r.out.split('\n').filter((l) => l.includes('changed:'));
    expect(changed).toEqual(['  changed: unmap-no-range-check dma-isolation: expected holds, got violated (3 steps)']);
  });

  it('a fixed design claimed to violate, and a trace length changed: exit 1, one line each; without a length only the verdict counts', async () => {
    const file = edited('two-changes', (x) => {
      x.verdicts['rfc-v1-fixed']['single-owner'] = { verdict: 'violated', length: 2 };
      x.verdicts['rfc-v1']['no-bug'] = { verdict: 'violated', length: 5 };
      x.verdicts['rfc-v1']['dma-isolation'] = 'violated';
    });
    const r = await run(['verify', ...FLAGS, '--expect', file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('2 of 45 CHANGED');
    expect(r.out).toContain('  changed: rfc-v1 no-bug: expected violated (5 steps), got violated (2 steps)\n');
    expect(r.out).toContain('  changed: rfc-v1-fixed single-owner: expected violated (2 steps), got holds within the bounds\n');
  });

  it('--json carries the comparison and the exit code', async () => {
    const file = edited('json', (x) => {
      x.verdicts['rfc-v1']['no-warn'] = 'holds';
    });
    const r = await run(['verify', ...FLAGS, '--json', '--expect', file]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.exitCode).toBe(1);
    expect(j.expect).toEqual({
      file,
      result: 'changed',
      compared: 45,
      boundsCompared: true,
      changes: [{ variant: 'rfc-v1', invariant: 'no-warn', expected: { verdict: 'holds' }, got: { status: 'violated', length: 1 } }],
    });
  });

  it('a file without bounds is compared on its verdicts and says the bounds were not', async () => {
    const file = edited('no-bounds', (x) => {
      delete x.bounds;
    });
    const r = await run(['verify', ...VARIANTS, '--depth', '2', '--expect', file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('the file records no bounds: they were not compared');
  });
});

describe('bad expected-verdicts files exit 2 with one line, before the search', () => {
  const cases: [string, (x: ExpectJson) => void, RegExp][] = [
    ['unknown-verdict', (x) => void (x.verdicts['rfc-v1']['no-bug'] = 'hold' as Entry), /\/verdicts\/rfc-v1\/no-bug must be equal to one of the allowed values \("holds", "violated"\)/],
    ['length-on-holds', (x) => void (x.verdicts['rfc-v1']['no-bug'] = { verdict: 'holds', length: 2 }), /\/verdicts\/rfc-v1\/no-bug\/length is not allowed here/],
    ['unknown-field', (x) => void ((x as unknown as Record<string, unknown>).extra = 1), /unknown field "extra"/],
    ['unknown-variant', (x) => void (x.verdicts['rfc-v9'] = { 'no-bug': 'holds' }), /unknown variant 'rfc-v9'/],
    ['unknown-invariant', (x) => void (x.verdicts['rfc-v1']['no-bugs'] = 'holds'), /unknown invariant 'no-bugs' for variant 'rfc-v1'/],
    ['missing-invariant', (x) => void delete x.verdicts['rfc-v1-fixed']['lock-order'], /records no verdict for variant 'rfc-v1-fixed' and invariant\(s\) lock-order/],
    ['missing-variant', (x) => void delete x.verdicts['rfc-v1'], /records no verdicts for variant 'rfc-v1'/],
    ['other-depth', (x) => void (x.bounds!.depth = 8), /recorded with other bounds than this run's: --depth 8 \(this run: 3\)/],
    ['other-host', (x) => void (x.bounds!.config.host = 'driver'), /other bounds .*--host driver \(this run: iommu\)/],
    ['other-iotlb', (x) => void (x.bounds!.config.iotlb = false), /other bounds .*--iotlb false \(this run: true\)/],
  ];
  for (const [name, edit, message] of cases)
    it(name, async () => {
      const r = await run(['verify', ...FLAGS, '--expect', edited(name, edit)]);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    });

  it('not JSON, missing, and the flags that cannot go together', async () => {
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{');
    expect((await run(['verify', ...FLAGS, '--expect', notJson])).err).toMatch(/not valid JSON/);
    expect((await run(['verify', ...FLAGS, '--expect', join(dir, 'none.json')])).err).toMatch(/cannot read it \(ENOENT\)/);
    const both = await run(['verify', ...FLAGS, '--expect', recorded, '--write-expect', join(dir, 'w.json')]);
    expect(both.code).toBe(2);
    const timed = await run(['verify', ...FLAGS, '--time-limit', '5', '--write-expect', join(dir, 'w.json')]);
    expect(timed.code).toBe(2);
    expect(timed.err).toMatch(/--write-expect cannot record verdicts under --time-limit/);
    const timedExpect = await run(['verify', ...FLAGS, '--time-limit', '5', '--expect', recorded]);
    expect(timedExpect.code).toBe(2);
    expect(timedExpect.err).toMatch(/--time-limit 5 \(a time bound makes verdicts depend on the machine/);
  });
});

describe('the shipped expected verdicts (docs/ci/expected-verdicts.json)', () => {
  const shipped = JSON.parse(readFileSync(SHIPPED, 'utf8')) as ExpectJson;

  it('validates against the shipped schema (ajv strict mode), at the default verify bounds, every built-in variant and invariant', async () => {
    expect(new Ajv({ strict: true }).validate(SCHEMA, shipped)).toBe(true);
    expect(shipped.bounds!.depth).toBe(8);
    expect(Object.keys(shipped.verdicts)).toEqual(BUILTIN_VARIANTS.map((v) => v.name));
    // the bounds verify runs with when given only --depth: the file's configuration
    const r = await run(['verify', '--quiet', '--depth', '3', '--expect', SHIPPED]);
    expect(r.code).toBe(2);
    expect(r.err).toBe('pkvm-check: --expect ' + SHIPPED + ": recorded with other bounds than this run's: --depth 8 (this run: 3) (give the same bounds, or record the verdicts again with --write-expect)\n");
  });

  it('agrees with every verdict a depth-3 run of all built-in variants decides', async () => {
    const r = await run(['verify', '--quiet', '--json', '--depth', '3']);
    const j = JSON.parse(r.out) as { config: Record<string, unknown>; variants: { variant: string; invariants: Record<string, Cell> }[] };
    expect(j.config).toEqual(shipped.bounds!.config);
    let decided = 0;
    for (const row of j.variants)
      for (const [inv, cell] of Object.entries(row.invariants)) {
        const e = shipped.verdicts[row.variant][inv];
        const exp = typeof e === 'string' ? { verdict: e } : e;
        const where = `${row.variant} ${inv}`;
        // a shortest violation within depth 3 is the shortest within depth 8; an exhausted "holds" holds at any depth;
        // a "holds" within depth 3 leaves either verdict at depth 8, but a violation only by a longer trace
        if (cell.status === 'violated') {
          expect(exp, where).toEqual({ verdict: 'violated', length: cell.length });
          decided++;
        } else if (cell.status === 'holds') expect(exp.verdict, where).toBe('holds');
        else if (exp.verdict === 'violated') expect((exp as { length: number }).length, where).toBeGreaterThan(3);
      }
    expect(decided).toBeGreaterThan(50);
  });
});
