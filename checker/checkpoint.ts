/**
 * Checkpoints of a breadth-first search: the visited set, the parent links, the frontier
 * (encodings), the statistics and the violations so far. A checkpoint is taken at a level
 * boundary or inside a level (then it also holds the part of the next level found so far, and
 * the frontier is what is left of the current level), so a run interrupted after an hour
 * resumes from its last checkpoint and loses at most the checkpoint interval, however long its
 * levels. Files are written to a temporary folder and renamed, so a checkpoint is never half
 * written.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FingerprintSet } from './fpset.ts';
import { ParentLinks } from './parents.ts';
import type { Example, Violation } from './types.ts';
import { BitstateSet, type VisitedSet } from './visited.ts';

export const CHECKPOINT_FORMAT = 'pkvm-check-checkpoint';
/** 3: fingerprints by tabulation (version 2 files hold fingerprints of another function). */
export const CHECKPOINT_VERSION = 3;

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

export function saveCheckpoint(dir: string, identity: string, s: CheckpointState): void {
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
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
    written: new Date().toISOString(),
  };
  writeFileSync(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 1)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

function u32(file: string): Uint32Array {
  const b = readFileSync(file);
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
  if (meta.format !== CHECKPOINT_FORMAT || (meta.version !== CHECKPOINT_VERSION && meta.version !== 1)) throw new CheckpointError(`${dir} is not a version ${CHECKPOINT_VERSION} checkpoint`);
  if (meta.identity !== identity) throw new CheckpointError(`the checkpoint in ${dir} is of another search (${String(meta.identity)}), not of this one (${identity})`);
  let visited: VisitedSet;
  if (meta.visitedKind === 'exact') {
    const fps = u32(join(dir, 'visited.bin'));
    const set = new FingerprintSet(Math.max(16, Math.ceil((fps.length / 2) * 1.6)));
    for (let i = 0; i < fps.length; i += 2) set.add(fps[i], fps[i + 1]);
    visited = set;
  } else {
    const b = meta.bitstate as { bytes: number; k: number; omitted: number };
    visited = BitstateSet.fromRaw(u32(join(dir, 'visited.bin')), b.k, meta.visitedSize as number, b.omitted);
  }
  const parents = ParentLinks.fromRaw(u32(join(dir, 'parents.bin')), u32(join(dir, 'actions.bin')));
  const readPacked = (name: string): PackedStates => {
    const bytes = new Uint8Array(readFileSync(join(dir, `${name}.bin`)));
    const lengths = u32(join(dir, `${name}-lengths.bin`));
    const ids = u32(join(dir, `${name}-ids.bin`));
    let total = 0;
    for (const n of lengths) total += n;
    if (ids.length !== lengths.length || total !== bytes.length) throw new CheckpointError(`${dir}: ${name} files do not agree`);
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
