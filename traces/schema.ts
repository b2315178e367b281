/**
 * The JSON Schemas of the files pkvm-check reads (schemas/ in the repository: the native trace
 * file, and the generic shape of an ITF trace), loaded and compiled by ajv the first time a file
 * is read, so that a run that only writes traces never pays for them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';

export const TRACE_SCHEMA_ID = 'urn:pkvm-check:trace.schema.json';
export const ITF_SCHEMA_ID = 'urn:pkvm-check:itf.schema.json';

const SCHEMA_FILES = ['pkvm-check-trace.schema.json', 'itf.schema.json'];

let ajv: Ajv2020 | null = null;

function validator(id: string): ValidateFunction {
  if (!ajv) {
    // (loaded here, not imported: a run that reads no file does not load ajv at all)
    const { Ajv2020: Ajv } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    ajv = new Ajv({ strict: true, allowUnionTypes: true });
    for (const f of SCHEMA_FILES) ajv.addSchema(JSON.parse(readFileSync(new URL(`../schemas/${f}`, import.meta.url), 'utf8')));
  }
  return ajv.getSchema(id)!;
}

/** The value at a JSON pointer of `data` (for "got ..." in messages). */
function at(data: unknown, pointer: string): unknown {
  let v = data;
  for (const part of pointer.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}

/** ajv's error as one line: the JSON path of the value, what it must be, and what it is. */
export function describeError(e: ErrorObject, data: unknown): string {
  const got = JSON.stringify(at(data, e.instancePath)) ?? 'nothing';
  const shown = got.length > 40 ? `${got.slice(0, 37)}...` : got;
  const where = e.instancePath || '/';
  switch (e.keyword) {
    case 'type':
      return `${where}: must be ${String(e.params.type).split(',').join(' or ')} (got ${shown})`;
    case 'const':
      return `${where}: must be ${JSON.stringify(e.params.allowedValue)} (got ${shown})`;
    case 'enum':
      return `${where}: must be one of ${(e.params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')} (got ${shown})`;
    default:
      return `${where}: ${e.message}`;
  }
}

/** Validates `data` against one of the schemas: null when it conforms, else the first error as one line. */
export function schemaError(id: string, data: unknown): string | null {
  const v = validator(id);
  return v(data) ? null : describeError(v.errors![0], data);
}
