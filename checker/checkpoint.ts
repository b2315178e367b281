/**
 * Checkpoints of a breadth-first search: the visited set, the parent links, the frontier
 * (encodings), the statistics and the violations so far. A checkpoint is taken at a level
 * boundary or inside a level (then it also holds the part of the next level found so far, and
 * the frontier is what is left of the current level), so a run interrupted after an hour
 * resumes from its last checkpoint and loses at most the checkpoint interval, however long its
 * levels. Files are written to a temporary folder and renamed, so a checkpoint is never half
 * written; meta.json records each file's size and SHA-256, and a checkpoint whose files do not
 * match them, or do not agree with each other, is refused (resuming from it would report counts
 * of a search that never ran).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync as writeFile } from 'node:fs';
import { join } from 'node:path';
import { FingerprintSet } from './fpset.ts';
import { ParentLinks } from './parents.ts';
import type { Example, Violation } from './types.ts';
import { BitstateSet, type VisitedSet } from './visited.ts';

export const CHECKPOINT_FORMAT = 'pkvm-check-checkpoint';
/** 4: files with sizes and checksums (3: without; 2 held fingerprints of another function). */
export const CHECKPOINT_VERSION = 4;

/** Encoded states end to end: ids[i]'s encoding is bytes[sum of lengths[0..i)..][0..lengths[i]). */
export interface PackedStates {
  readonly ids: Uint32Array;
  readonly lengths: Uint32Array;
  readonly bytes: Uint8Array;
}

export interface CheckpointState {
  readonly visited: VisitedSet;
  readonly parents: ParentLinks;
  /** The states of the current level still to expand (all of it at a level boundary). */
  readonly frontier: PackedStates;
  /** Inside a level: the next level's states found so far. */
  readonly next?: PackedStates;
  readonly depth: number;
  readonly levels: number[];
  readonly transitions: number;
  readonly violations: Violation[];
  readonly examples: Example[];
  readonly seconds: number;
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

const sha256 = (b: ArrayBufferView) => createHash('sha256').update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).digest('hex');

export function saveCheckpoint(dir: string, identity: string, s: CheckpointState): void {
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const files: Record<string, { bytes: number; sha256: string }> = {};
  const writeFileSync = (file: string, data: Uint8Array | Uint32Array) => {
    files[file.slice(tmp.length + 1)] = { bytes: data.byteLength, sha256: sha256(data) };
    writeFile(file, data);
  };
  let visitedKind: 'exact' | 'bitstate';
  if (s.visited instanceof FingerprintSet) {
    visitedKind = 'exact';
    const fps = new Uint32Array(s.visited.size * 2);
    let i = 0;
    for (const [hi, lo] of s.visited.entries()) {
      fps[i++] = hi;
      fps[i++] = lo;
    }
    writeFileSync(join(tmp, 'visited.bin'), fps);
  } else if (s.visited instanceof BitstateSet) {
    visitedKind = 'bitstate';
    writeFileSync(join(tmp, 'visited.bin'), s.visited.raw());
  } else throw new CheckpointError('unknown visited set');
  const { parent, action } = s.parents.raw();
  writeFileSync(join(tmp, 'parents.bin'), parent);
  writeFileSync(join(tmp, 'actions.bin'), action);
  const writePacked = (name: string, p: PackedStates) => {
    writeFileSync(join(tmp, `${name}.bin`), p.bytes);
    writeFileSync(join(tmp, `${name}-lengths.bin`), p.lengths);
    writeFileSync(join(tmp, `${name}-ids.bin`), p.ids);
  };
  writePacked('frontier', s.frontier);
  if (s.next) writePacked('next', s.next);
  const meta = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    identity,
    visitedKind,
    visitedSize: s.visited.size,
    bitstate: s.visited instanceof BitstateSet ? { bytes: s.visited.bytes, k: s.visited.k, omitted: s.visited.omittedSoFar } : null,
    inLevel: !!s.next,
    depth: s.depth,
    levels: s.levels,
    transitions: s.transitions,
    violations: s.violations,
    examples: s.examples,
    seconds: s.seconds,
    files,
    written: new Date().toISOString(),
  };
  writeFile(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 1)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/** A file of the checkpoint, checked against the size and checksum its meta.json records. */
function readChecked(dir: string, name: string, files: Record<string, { bytes: number; sha256: string }>): Buffer {
  const want = files[name];
  if (!want) throw new CheckpointError(`${dir}: meta.json records no ${name}: the checkpoint is damaged`);
  let b: Buffer;
  try {
    b = readFileSync(join(dir, name));
  } catch (e) {
    throw new CheckpointError(`${dir}: cannot read ${name} (${(e as NodeJS.ErrnoException).code ?? String(e)}): the checkpoint is damaged`);
  }
  if (b.byteLength !== want.bytes) throw new CheckpointError(`${dir}: ${name} is ${b.byteLength} bytes, the checkpoint recorded ${want.bytes}: refusing a damaged checkpoint`);
  if (sha256(b) !== want.sha256) throw new CheckpointError(`${dir}: ${name} does not match its recorded checksum: refusing a damaged checkpoint`);
  return b;
}

function u32of(b: Buffer, dir: string, name: string): Uint32Array {
  if (b.byteLength % 4 !== 0) throw new CheckpointError(`${dir}: ${name} is not a whole number of 32-bit words`);
  return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function loadCheckpoint(dir: string, identity: string): CheckpointState {
  const metaFile = join(dir, 'meta.json');
  if (!existsSync(metaFile)) throw new CheckpointError(`${dir} holds no checkpoint (no meta.json)`);
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${metaFile} is not valid JSON`);
  }
  if (meta.format !== CHECKPOINT_FORMAT || meta.version !== CHECKPOINT_VERSION)
    throw new CheckpointError(`${dir} is not a version ${CHECKPOINT_VERSION} checkpoint (found ${String(meta.format)} version ${String(meta.version)})`);
  if (meta.identity !== identity) throw new CheckpointError(`the checkpoint in ${dir} is of another search (${String(meta.identity)}), not of this one (${identity})`);
  const files = (meta.files ?? {}) as Record<string, { bytes: number; sha256: string }>;
  const u32 = (name: string) => u32of(readChecked(dir, name, files), dir, name);
  const visitedSize = meta.visitedSize as number;
  let visited: VisitedSet;
  if (meta.visitedKind === 'exact') {
    const fps = u32('visited.bin');
    if (fps.length !== 2 * visitedSize) throw new CheckpointError(`${dir}: visited.bin holds ${fps.length / 2} fingerprints, the checkpoint recorded ${visitedSize}`);
    const set = new FingerprintSet(Math.max(16, Math.ceil((fps.length / 2) * 1.6)));
    for (let i = 0; i < fps.length; i += 2) set.add(fps[i], fps[i + 1]);
    if (set.size !== visitedSize) throw new CheckpointError(`${dir}: visited.bin holds the same fingerprint twice: the checkpoint is damaged`);
    visited = set;
  } else if (meta.visitedKind === 'bitstate') {
    const b = meta.bitstate as { bytes: number; k: number; omitted: number };
    visited = BitstateSet.fromRaw(u32('visited.bin'), b.k, visitedSize, b.omitted);
  } else throw new CheckpointError(`${dir}: unknown visited set '${String(meta.visitedKind)}'`);
  const parentArr = u32('parents.bin');
  const actionArr = u32('actions.bin');
  if (parentArr.length !== actionArr.length) throw new CheckpointError(`${dir}: parents.bin and actions.bin do not agree`);
  if (meta.visitedKind === 'exact' && parentArr.length !== visitedSize) throw new CheckpointError(`${dir}: ${parentArr.length} parent links for ${visitedSize} states: the checkpoint is damaged`);
  const parents = ParentLinks.fromRaw(parentArr, actionArr);
  const readPacked = (name: string): PackedStates => {
    const bytes = new Uint8Array(readChecked(dir, `${name}.bin`, files));
    const lengths = u32(`${name}-lengths.bin`);
    const ids = u32(`${name}-ids.bin`);
    let total = 0;
    for (const n of lengths) total += n;
    if (ids.length !== lengths.length || total !== bytes.length) throw new CheckpointError(`${dir}: ${name} files do not agree`);
    for (const id of ids) if (id >= parentArr.length) throw new CheckpointError(`${dir}: ${name} names state ${id}, beyond the ${parentArr.length} states recorded`);
    return { ids, lengths, bytes };
  };
  const frontier = readPacked('frontier');
  const next = meta.inLevel ? readPacked('next') : undefined;
  return {
    visited,
    parents,
    frontier,
    ...(next ? { next } : {}),
    depth: meta.depth as number,
    levels: meta.levels as number[],
    transitions: meta.transitions as number,
    violations: meta.violations as Violation[],
    examples: meta.examples as Example[],
    seconds: meta.seconds as number,
  };
}
