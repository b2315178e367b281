/**
 * The native trace file's JSON Schema (schemas/pkvm-check-trace.schema.json): every trace the
 * checker writes conforms, and malformed files are refused with ajv's first error, its JSON path
 * named, in one line.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TraceFormatError, validateTrace } from '../../traces/format.ts';
import { schemaError, TRACE_SCHEMA_ID } from '../../traces/schema.ts';
import { runCli } from '../run-cli.ts';

let dir: string;
let files: string[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-schema-'));
  // every invariant's shortest trace on several configurations, and a diff's trace
  const runs = [
    ['check', '--all', '--depth', '6'],
    ['check', '--all', '--depth', '5', '--host', 'adversarial', '--iotlb'],
    ['check', '--variant', 'unshare-before-tlbi', '--cpus', '2', '--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--invariant', 'dma-isolation'],
    ['check', '--variant', 'vmemmap-cmpxchg', '--cpus', '2', '--guests', '0', '--domains', '1'],
  ];
  for (const [i, args] of runs.entries()) expect((await runCli([...args, '--quiet', '--trace-out', join(dir, `run${i}.json`)])).code).toBe(1);
  expect((await runCli(['diff', 'rfc-v1', 'rfc-v1-fixed', '--quiet', '--trace-out', join(dir, 'diff.json')])).code).toBe(1);
  files = readdirSync(dir).map((f) => join(dir, f));
});

const trace = () => JSON.parse(readFileSync(join(dir, 'run2.json'), 'utf8'));

describe('the schema', () => {
  it('every trace the checker writes conforms', () => {
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(schemaError(TRACE_SCHEMA_ID, JSON.parse(readFileSync(f, 'utf8'))), f).toBeNull();
  });

  const cases: [string, (t: Record<string, any>) => unknown, string][] = [
    ['a wrong version (before anything else)', (t) => ((t.version = 2), delete t.steps), '/version: must be 1 (got 2)'],
    ['another format', (t) => (t.format = 'other'), '/format: must be "pkvm-check-trace" (got "other")'],
    ['a missing field', (t) => delete t.init, "/: must have required property 'init'"],
    ['a step without its return', (t) => delete t.steps[3].ret, "/steps/3: must have required property 'ret'"],
    ['a return of the wrong type', (t) => (t.steps[3].ret = '0'), '/steps/3/ret: must be integer (got "0")'],
    ['an argument of the wrong type', (t) => (t.steps[0].action.args.iova = 'x'), '/steps/0/action/args/iova: must be integer or boolean (got "x")'],
    ['a fingerprint that is not 16 hex digits', (t) => (t.steps[1].fingerprint = 'xyz'), '/steps/1/fingerprint: must match pattern "^[0-9a-f]{16}$"'],
    ['a violation without its kind', (t) => delete t.violation.kind, "/violation: must have required property 'kind'"],
    ['an unknown host', (t) => (t.config.host = 'nice'), '/config/host: must be one of "driver", "iommu", "adversarial" (got "nice")'],
    ['a host stage-2 leaf without its state', (t) => delete t.finalState.hostS2[0].state, "/finalState/hostS2/0: must have required property 'state'"],
    ['an io-pgtable entry of an unknown type', (t) => (t.finalState.iommu[0].pgd[0] = { type: 'leaf' }), '/finalState/iommu/0/pgd/0/type: must be one of "block", "table" (got "leaf")'],
    ['a negative page in a table', (t) => (t.finalState.iommu[0].pgd[0].ptes[1] = -1), '/finalState/iommu/0/pgd/0/ptes/1: must be >= 0'],
    ['not an object', () => [1, 2], '/: must be object (got [1,2])'],
  ];
  for (const [name, edit, message] of cases)
    it(`refuses ${name}, naming the path`, () => {
      let t: unknown = trace();
      const r = edit(t as Record<string, unknown>);
      if (Array.isArray(r)) t = r;
      expect(() => validateTrace(t)).toThrow(TraceFormatError);
      expect(() => validateTrace(t)).toThrow(message);
    });

  it('fields it does not know are allowed (a later version may add some)', () => {
    const t = trace();
    t.note = 'x';
    t.steps[0].more = [1];
    expect(schemaError(TRACE_SCHEMA_ID, t)).toBeNull();
  });
});
