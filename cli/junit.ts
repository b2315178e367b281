/**
 * verify's matrix as JUnit XML (`verify --junit FILE`), for CI dashboards: one <testsuite> per
 * variant, one <testcase> per variant x invariant (classname = the variant, name = the invariant).
 * A violated invariant is a <failure> whose message is the one-line verdict and whose body is the
 * shortest trace as `replay` prints it; an invariant --invariant left out is <skipped>; every
 * suite's system-out gives the configuration and says whether the search was exhausted or cut by
 * a bound, and a "holds" within a cut bound says so in its test case's system-out. With expected
 * verdicts (--expect), a test case fails when its verdict changed, and an expected violation passes
 * (its trace in system-out).
 */
import type { CheckResult } from '../checker/types.ts';
import { describeConfig } from '../traces/render.ts';
import { changeLine, type ExpectComparison } from './expect.ts';
import { replayText } from './output.ts';
import { replayBuilt, type VerifyCell, type VerifyReport, type VerifyRow } from './run.ts';

/** Characters XML 1.0 cannot hold (most C0 controls, lone surrogates, U+FFFE/U+FFFF). */
const NOT_XML = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlText(s: string): string {
  return s.replace(NOT_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

const n = (x: number) => x.toLocaleString('en-US');
const secs = (s: number) => s.toFixed(3);
const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');

function boundsText(r: VerifyReport): string {
  const b = r.bounds;
  const parts = [b.depth !== undefined ? `depth <= ${b.depth}` : '', b.maxStates !== undefined ? `at most ${n(b.maxStates)} states` : '', b.timeLimit !== undefined ? `at most ${b.timeLimit} s` : ''].filter(Boolean);
  return parts.length ? parts.join(', ') : 'no bound';
}

/** Exhausted, or which bound cut the search: what a "holds" of this variant is worth. */
function searchText(r: VerifyReport, res: CheckResult): string {
  const s = res.stats;
  if (res.exhausted) return `search: breadth-first (${boundsText(r)}), state space exhausted at depth ${s.depth}: ${n(s.distinctStates)} distinct states; "holds" is unconditional for this configuration`;
  const why = res.cutBy ? `cut by the ${res.cutBy} bound` : 'stopped';
  return `search: breadth-first (${boundsText(r)}), NOT exhausted: ${why} after ${n(s.distinctStates)} distinct states (${n(s.queued)} left unexpanded); "holds" means only that no violation exists within these bounds`;
}

/** The one-line verdict of one variant x invariant. */
export function verdictLine(r: VerifyReport, row: VerifyRow, invariant: string, cell: VerifyCell): string {
  const v = row.variant.name;
  if (cell.status === 'violated') return `${v}: ${invariant} is violated after ${cell.length} step(s): ${oneLine(cell.message ?? '')}`;
  if (cell.status === 'holds') return `${v}: ${invariant} holds (state space exhausted)`;
  return `${v}: ${invariant} holds within the bounds only (${boundsText(r)}; not exhausted: ${row.result.cutBy ? `the ${row.result.cutBy} bound cut the search` : 'the search stopped'})`;
}

function traceText(row: VerifyRow, invariant: string, cell: VerifyCell): string {
  const label = cell.trace ?? '(no file: verify --trace-dir DIR writes one)';
  return replayText(replayBuilt(label, row.traces[invariant], row.variant));
}

function testcase(r: VerifyReport, row: VerifyRow, invariant: string, cell: VerifyCell, time: number, expect?: ExpectComparison): string {
  const head = `    <testcase classname="${xmlAttr(row.variant.name)}" name="${xmlAttr(invariant)}" time="${secs(time)}"`;
  const line = verdictLine(r, row, invariant, cell);
  const trace = cell.status === 'violated' ? `\n\n${traceText(row, invariant, cell)}` : '';
  const change = expect?.changes.find((c) => c.variant === row.variant.name && c.invariant === invariant);
  if (change) return `${head}>\n      <failure type="verdict-changed" message="${xmlAttr(`changed: ${changeLine(change)}`)}">${xmlText(`${line}${trace}`)}</failure>\n    </testcase>`;
  if (cell.status === 'violated' && !expect) return `${head}>\n      <failure type="violated" message="${xmlAttr(line)}">${xmlText(trace.trimStart())}</failure>\n    </testcase>`;
  const expected = expect ? ' (as expected)' : '';
  return `${head}>\n      <system-out>${xmlText(`${line}${expected}${trace}`)}</system-out>\n    </testcase>`;
}

function testsuite(r: VerifyReport, row: VerifyRow, expect?: ExpectComparison): { xml: string; tests: number; failures: number; skipped: number } {
  const cells = Object.entries(row.cells);
  const seconds = row.result.stats.seconds;
  // the invariants of a variant are checked together, in one search: its time is shared among them
  const each = cells.length ? seconds / cells.length : 0;
  const cases = cells.map(([inv, cell]) => testcase(r, row, inv, cell, each, expect));
  for (const inv of row.notChecked)
    cases.push(`    <testcase classname="${xmlAttr(row.variant.name)}" name="${xmlAttr(inv)}" time="0.000">\n      <skipped message="not checked: --invariant left it out"/>\n    </testcase>`);
  const failures = expect ? expect.changes.filter((c) => c.variant === row.variant.name).length : cells.filter(([, c]) => c.status === 'violated').length;
  const tests = cases.length;
  const skipped = row.notChecked.length;
  const config = describeConfig({ config: r.config, variant: row.variant.name });
  const search = searchText(r, row.result);
  const props = [
    ['configuration', config],
    ['bounds', boundsText(r)],
    ['exhausted', String(row.result.exhausted)],
    ['cut-by', row.result.cutBy ?? 'none'],
    ['distinct-states', String(row.result.stats.distinctStates)],
    ...(expect ? [['expected-verdicts', expect.file]] : []),
  ];
  const xml = [
    `  <testsuite name="${xmlAttr(row.variant.name)}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${secs(seconds)}">`,
    '    <properties>',
    ...props.map(([k, v]) => `      <property name="${xmlAttr(k)}" value="${xmlAttr(v)}"/>`),
    '    </properties>',
    ...cases,
    `    <system-out>${xmlText(`${config}\n${search}`)}</system-out>`,
    '  </testsuite>',
  ].join('\n');
  return { xml, tests, failures, skipped };
}

/** The whole report as one JUnit XML document. */
export function junitXml(r: VerifyReport, expect?: ExpectComparison): string {
  const suites = r.rows.map((row) => testsuite(r, row, expect));
  const sum = (k: 'tests' | 'failures' | 'skipped') => suites.reduce((a, s) => a + s[k], 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="pkvm-check verify" tests="${sum('tests')}" failures="${sum('failures')}" errors="0" skipped="${sum('skipped')}" time="${secs(r.seconds)}">`,
    ...suites.map((s) => s.xml),
    '</testsuites>',
    '',
  ].join('\n');
}
