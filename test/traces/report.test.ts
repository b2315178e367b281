/**
 * The HTML report as a string: built from real runs, every text escaped (a hostile string stays
 * text), every id unique and every link pointing at one, the policy's hashes those of the inline
 * style and script, one step element per recorded step.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkReportInput, verifyReportInput } from '../../cli/report-file.ts';
import { runCheck, runVerify, type CheckReport } from '../../cli/run.ts';
import { DEFAULT_CONFIG, validateConfig } from '../../model/config.ts';
import { builtinVariant } from '../../model/variants/index.ts';
import { escapeHtml, renderReport, type ReportInput } from '../../traces/report.ts';
import type { TraceFile } from '../../traces/format.ts';
import { runCli } from '../run-cli.ts';

const HOSTILE = `</code><script>alert("pwned")</script><img src=x onerror='alert(1)'> & "quoted"`;

const ids = (html: string) => [...html.matchAll(/\sid="([^"]*)"/g)].map((m) => m[1]);
const links = (html: string) => [...html.matchAll(/\shref="#([^"]*)"/g)].map((m) => m[1]);
const count = (html: string, what: string) => html.split(what).length - 1;

let seed: CheckReport;
let twoCpus: CheckReport;
beforeAll(async () => {
  const variant = builtinVariant('rfc-v1')!;
  seed = await runCheck({ config: DEFAULT_CONFIG, variant, depth: 5, all: true, traceOut: null, command: 'pkvm-check check --all --depth 5' });
  twoCpus = await runCheck({ config: validateConfig({ ...DEFAULT_CONFIG, cpus: 2, iotlb: true }), variant, depth: 5, all: true, traceOut: null, command: 'pkvm-check check --cpus 2 --all --depth 5' });
});

describe('renderReport', () => {
  it('escapes the five characters that open markup or end an attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('shows a hostile string everywhere it can come from as text, never as markup', () => {
    const input = checkReportInput(seed);
    const evil = (t: TraceFile): TraceFile => ({
      ...t,
      variant: HOSTILE,
      violation: t.violation && { ...t.violation, invariant: HOSTILE, message: HOSTILE, description: HOSTILE },
      steps: t.steps.map((s) => ({
        ...s,
        call: HOSTILE,
        retName: HOSTILE,
        actor: HOSTILE,
        subcalls: [{ call: HOSTILE, ret: 0 }],
        failures: [{ kind: 'WARN_ON', where: HOSTILE, detail: HOSTILE }],
        accesses: [{ by: HOSTILE, pfn: 0 }],
        changes: [{ what: `${HOSTILE} / ${HOSTILE}`, before: HOSTILE, after: HOSTILE }],
      })),
    });
    const run = input.runs[0];
    const html = renderReport({
      command: HOSTILE,
      generator: HOSTILE,
      runs: [{ ...run, variant: HOSTILE, engine: HOSTILE, search: HOSTILE, invariants: [...run.invariants, { name: HOSTILE, description: HOSTILE }], traces: run.traces.map(evil) }],
    });
    // the only script and the only tags are the report's own
    expect(count(html, '<script')).toBe(1);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('alert("pwned")');
    expect(html).not.toMatch(/onerror='/);
    const escaped = escapeHtml(HOSTILE);
    // command, generator, variant (title and heading), search, engine, invariant names, and per step: call, return, actor, subcall, failure, access, change
    expect(count(html, escaped)).toBeGreaterThan(10 * run.traces.length);
    // every id is still a plain slug (an invariant's name becomes one)
    for (const id of ids(html)) expect(id).toMatch(/^[a-z0-9-]+$/);
  });

  for (const [name, report] of [
    ['the seed, every violation', () => seed],
    ['two CPUs', () => twoCpus],
  ] as const)
    it(`${name}: ids unique, every link lands on one, one step element per step`, () => {
      const input = checkReportInput(report());
      const html = renderReport(input);
      const all = ids(html);
      expect(all.length).toBeGreaterThan(0);
      expect(new Set(all).size).toBe(all.length);
      const known = new Set(all);
      for (const l of links(html)) expect(known, `#${l}`).toContain(l);
      const traces = input.runs[0].traces;
      expect(traces.length).toBe(report().traces.length);
      expect(count(html, '<section class="violation"')).toBe(traces.length);
      expect(count(html, '<li class="step"')).toBe(traces.reduce((k, t) => k + t.steps.length, 0));
      // each violation links to the step that broke the invariant: its last
      for (const t of traces) expect(t.steps.length).toBeGreaterThan(0);
      expect(count(html, 'class="cause"')).toBe(traces.length);
    });

  it('the content security policy names the hashes of the inline style and script, and nothing is loaded', () => {
    const html = renderReport(checkReportInput(seed));
    const csp = html.match(/http-equiv="Content-Security-Policy" content="([^"]*)"/)![1];
    const hash = (tag: string) => createHash('sha256').update(html.match(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`))![1]).digest('base64');
    expect(csp).toContain(`default-src 'none'`);
    expect(csp).toContain(`style-src 'sha256-${hash('style')}'`);
    expect(csp).toContain(`script-src 'sha256-${hash('script')}'`);
    expect(html).not.toMatch(/\s(src|href)="(?!#)/);
    expect(html).not.toMatch(/\sstyle="/);
  });

  it('two CPUs: each step says where every CPU is and which locks it holds', () => {
    const html = renderReport(checkReportInput(twoCpus));
    const steps = twoCpus.traces.reduce((k, t) => k + t.trace.steps.length, 0);
    expect(steps).toBeGreaterThan(0);
    expect(count(html, '<table class="cpus sub">')).toBe(steps);
    expect(html).toMatch(/<td>cpu 1<\/td><td[^>]*>idle<\/td>/);
    expect(html).toMatch(/<td class="changed">host_mmu\.lock<\/td>/);
  });

  it('verify: one section per variant, each with its own violations, ids unique across them', () => {
    const config = validateConfig({ ...DEFAULT_CONFIG, host: 'iommu', iotlb: true });
    const r = runVerify({ config, variants: [builtinVariant('rfc-v1')!, builtinVariant('rfc-v1-fixed')!], depth: 4, traceDir: null });
    const input: ReportInput = verifyReportInput(r, 'pkvm-check verify --depth 4');
    const html = renderReport(input);
    expect(count(html, '<section class="run"')).toBe(2);
    expect(input.runs.map((x) => x.traces.length)).toEqual(r.rows.map((row) => Object.values(row.cells).filter((c) => c.status === 'violated').length));
    expect(count(html, '<section class="violation"')).toBe(input.runs[0].traces.length + input.runs[1].traces.length);
    const all = ids(html);
    expect(new Set(all).size).toBe(all.length);
    for (const l of links(html)) expect(all).toContain(l);
  });
});

describe('--report on the command line', () => {
  it('check and verify write the report (and say so); nothing else is left in the folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkvm-check-report-cli-'));
    const check = await runCli(['check', '--quiet', '--no-trace', '--depth', '3', '--report', join(dir, 'check.html')]);
    expect(check.code).toBe(1);
    expect(check.out).toContain(`report:     ${join(dir, 'check.html')}`);
    expect(readFileSync(join(dir, 'check.html'), 'utf8')).toMatch(/^<!DOCTYPE html>[\s\S]*<section class="violation"[\s\S]*<\/html>\n$/);
    const verify = await runCli(['verify', '--quiet', '--json', '--depth', '3', '--variant', 'rfc-v1', '--variant', 'rfc-v1-fixed', '--report', join(dir, 'verify.html')]);
    expect(JSON.parse(verify.out).report).toBe(join(dir, 'verify.html'));
    expect(count(readFileSync(join(dir, 'verify.html'), 'utf8'), '<section class="run"')).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['check.html', 'verify.html']);
  });

  for (const [what, path] of [
    ['a missing folder', '/nonexistent-folder/r.html'],
    ['a folder', tmpdir()],
    ['an empty name', ''],
  ] as const)
    for (const command of ['check', 'verify'])
      it(`${command} --report with ${what}: one line, exit 2, before any search`, async () => {
        const r = await runCli([command, '--quiet', '--report', path]);
        expect(r.code).toBe(2);
        expect(r.out).toBe('');
        expect(r.err.trim().split('\n')).toHaveLength(1);
        expect(r.err).toMatch(/^pkvm-check: --report /);
      });
});
