/**
 * verify --junit: the XML is well formed (checked by a parser written for the test), has one
 * suite per variant and one case per variant x invariant, a failure for each violation whose
 * message is the verdict and whose body is what replay prints, skipped cases for the invariants
 * left out, and says when a "holds" is only within a cut bound. Small bounds, so the file runs in
 * seconds.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { xmlAttr, xmlText } from '../../cli/junit.ts';
import { runCli as run } from '../run-cli.ts';
import { elements, parseXml, textOf, XmlError, type XmlElement } from './xml.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-junit-'));
});

interface Cell {
  status: 'holds' | 'holds-within-bounds' | 'violated';
  length?: number;
  message?: string;
}
interface VerifyJson {
  exitCode: number;
  variants: { variant: string; stats: { exhausted: boolean; cutBy: string | null }; invariants: Record<string, Cell>; notChecked: string[] }[];
}

/** verify with --json and --junit: the JSON report and the parsed XML of one run. */
async function verifyJunit(...flags: string[]): Promise<{ code: number; j: VerifyJson; xml: XmlElement; text: string }> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.xml`);
  const r = await run(['verify', '--quiet', '--json', '--junit', file, ...flags]);
  const text = readFileSync(file, 'utf8');
  return { code: r.code, j: JSON.parse(r.out) as VerifyJson, xml: parseXml(text), text };
}

const attr = (e: XmlElement, k: string) => e.attrs[k];
const num = (e: XmlElement, k: string) => Number(e.attrs[k]);

describe('the test XML parser', () => {
  it('reads a well-formed document and decodes its references', () => {
    const x = parseXml('<?xml version="1.0"?>\n<!-- c --><a k="&lt;&amp;&quot;&#10;x"><b/>t&gt;<![CDATA[<raw>]]></a>\n');
    expect(x.name).toBe('a');
    expect(x.attrs.k).toBe('<&"\nx');
    expect(elements(x, 'b')).toHaveLength(1);
    expect(textOf(x)).toBe('t><raw>');
  });

  it('refuses what is not well formed', () => {
    for (const bad of ['<a><b></a></b>', '<a k="1" k="2"/>', '<a k=1/>', '<a>x & y</a>', '<a k="<"/>', '<a>', '<a/><b/>', '<a>\u0001</a>', '<a>&bogus;</a>', '<a>&#1;</a>', 'text<a/>', '<a>]]></a>'])
      expect(() => parseXml(bad), bad).toThrow(XmlError);
  });
});

describe('escaping', () => {
  it('text and attributes survive a round trip through the parser, characters XML cannot hold replaced', () => {
    const nasty = 'a<b>&c "d" \'e\'\nf\tg ]]> \u0001\u0008 \uFFFE \uD800 end \u{1F600}';
    const x = parseXml(`<r v="${xmlAttr(nasty)}">${xmlText(nasty)}</r>`);
    const cleaned = nasty.replace('\u0001', '\uFFFD').replace('\u0008', '\uFFFD').replace('\uFFFE', '\uFFFD').replace('\uD800', '\uFFFD');
    expect(x.attrs.v).toBe(cleaned);
    expect(textOf(x)).toBe(cleaned);
  });
});

describe('verify --junit', () => {
  it('one suite per variant, one case per variant x invariant, failures, skipped and counts that agree with the JSON of the same run', async () => {
    const { code, j, xml } = await verifyJunit('--depth', '3', '--variant', 'rfc-v1', '--variant', 'rfc-v1-fixed', '--variant', 'share-dma-no-ref-rollback', '--invariant', 'dma-isolation', '--invariant', 'refcount-accounting', '--invariant', 'no-bug');
    expect(code).toBe(1);
    expect(xml.name).toBe('testsuites');
    const suites = elements(xml, 'testsuite');
    expect(suites.map((s) => attr(s, 'name'))).toEqual(j.variants.map((v) => v.variant));
    let total = 0;
    let failures = 0;
    for (const [k, s] of suites.entries()) {
      const row = j.variants[k];
      const cases = elements(s, 'testcase');
      const checked = Object.keys(row.invariants);
      expect(checked).toEqual(['dma-isolation', 'refcount-accounting', 'no-bug']);
      expect(row.notChecked.length).toBeGreaterThan(5);
      expect(cases.map((c) => attr(c, 'name')).sort()).toEqual([...checked, ...row.notChecked].sort());
      for (const c of cases) expect(attr(c, 'classname')).toBe(row.variant);
      const violated = checked.filter((inv) => row.invariants[inv].status === 'violated');
      expect(num(s, 'tests')).toBe(cases.length);
      expect(num(s, 'failures')).toBe(violated.length);
      expect(num(s, 'skipped')).toBe(row.notChecked.length);
      expect(num(s, 'errors')).toBe(0);
      expect(cases.filter((c) => elements(c, 'failure').length).map((c) => attr(c, 'name'))).toEqual(violated);
      expect(cases.filter((c) => elements(c, 'skipped').length).map((c) => attr(c, 'name'))).toEqual(row.notChecked);
      for (const inv of violated) {
        const f = elements(cases.find((c) => attr(c, 'name') === inv)!, 'failure')[0];
        const cell = row.invariants[inv];
        expect(attr(f, 'message')).toBe(`${row.variant}: ${inv} is violated after ${cell.length} step(s): ${cell.message}`);
        expect(attr(f, 'message')).not.toContain('\n');
        const body = textOf(f);
        expect(body).toMatch(new RegExp(`^pkvm-check replay: .*replayed on ${row.variant}\\n`));
        expect(body.split('\n').filter((l) => /^ *\d+\. /.test(l))).toHaveLength(cell.length!);
        expect(body).toContain(`reproduced on ${row.variant}: ${inv} is violated at step ${cell.length}, identical to the recording`);
      }
      // a cut search: every suite says so, and every "holds" says it is only within the bounds
      const out = textOf(elements(s, 'system-out')[0]);
      expect(out).toMatch(/^variant .*; host iommu; .*SMMU IOTLB modelled\n/);
      expect(out).toContain('NOT exhausted: cut by the depth bound');
      for (const c of cases.filter((c) => row.invariants[attr(c, 'name')]?.status === 'holds-within-bounds'))
        expect(textOf(elements(c, 'system-out')[0])).toContain('holds within the bounds only (depth <= 3; not exhausted: the depth bound cut the search)');
      total += cases.length;
      failures += violated.length;
    }
    expect(num(xml, 'tests')).toBe(total);
    expect(num(xml, 'failures')).toBe(failures);
    expect(failures).toBeGreaterThan(2);
    expect(j.variants.find((v) => v.variant === 'rfc-v1-fixed')!.invariants['no-bug'].status).toBe('holds-within-bounds');
  });

  it('an exhausted search says "holds" is unconditional; times add up to the suite time', async () => {
    const { j, xml } = await verifyJunit('--depth', '8', '--variant', 'smmu-s2-shadow', '--variant', 'smmu-shadow-no-hook-on-donate');
    for (const [k, s] of elements(xml, 'testsuite').entries()) {
      expect(j.variants[k].stats.exhausted).toBe(true);
      expect(textOf(elements(s, 'system-out')[0])).toContain('state space exhausted');
      const props = Object.fromEntries(elements(elements(s, 'properties')[0], 'property').map((p) => [attr(p, 'name'), attr(p, 'value')]));
      expect(props.exhausted).toBe('true');
      expect(props['cut-by']).toBe('none');
      const cases = elements(s, 'testcase');
      const sum = cases.reduce((a, c) => a + num(c, 'time'), 0);
      expect(Math.abs(sum - num(s, 'time'))).toBeLessThan(0.001 * cases.length + 1e-9);
      for (const c of cases.filter((c) => !elements(c, 'failure').length)) expect(textOf(elements(c, 'system-out')[0])).toMatch(/holds \(state space exhausted\)$/);
    }
    const donate = elements(xml, 'testsuite')[1];
    expect(num(donate, 'failures')).toBe(1);
  });

  it('with --expect, a case fails only where the verdict changed; an expected violation passes with its trace', async () => {
    const expectFile = join(dir, 'junit-expect.json');
    const flags = ['--depth', '3', '--variant', 'rfc-v1', '--invariant', 'dma-isolation', '--invariant', 'no-bug'];
    expect((await run(['verify', '--quiet', ...flags, '--write-expect', expectFile])).code).toBe(0);
    const same = await verifyJunit(...flags, '--expect', expectFile);
    expect(same.code).toBe(0);
    expect(num(same.xml, 'failures')).toBe(0);
    const cases = elements(elements(same.xml, 'testsuite')[0], 'testcase');
    const iso = textOf(elements(cases.find((c) => attr(c, 'name') === 'dma-isolation')!, 'system-out')[0]);
    expect(iso).toMatch(/is violated after 3 step\(s\): .* \(as expected\)\n/);
    expect(iso).toContain('reproduced on rfc-v1');
    const edited = JSON.parse(readFileSync(expectFile, 'utf8'));
    edited.verdicts['rfc-v1']['no-bug'] = 'holds';
    const { writeFileSync } = await import('node:fs');
    writeFileSync(expectFile, JSON.stringify(edited));
    const changed = await verifyJunit(...flags, '--expect', expectFile);
    expect(changed.code).toBe(1);
    expect(num(changed.xml, 'failures')).toBe(1);
    const f = elements(elements(changed.xml, 'testsuite')[0], 'testcase').flatMap((c) => elements(c, 'failure'));
    expect(f.map((x) => attr(x, 'message'))).toEqual(['changed: rfc-v1 no-bug: expected holds, got violated (2 steps)']);
    expect(attr(f[0], 'type')).toBe('verdict-changed');
  });

  it('a JUnit file that cannot be written is refused before the search (exit 2)', async () => {
    const r = await run(['verify', '--quiet', '--variant', 'rfc-v1', '--depth', '1', '--junit', join(dir, 'missing', 'x.xml')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^pkvm-check: --junit .*does not exist\n$/);
  });
});
