/**
 * One level of the breadth-first frontier: state ids, and the states themselves, or, when the
 * model can decode, their encodings copied into large byte chunks (a few bytes of index per state
 * instead of an object per state, so that a level of tens of millions of states fits).
 *
 * Beyond memory: with a spill limit, once the level's chunks in memory exceed it, every full
 * chunk is written to a temporary file and dropped; the search reads the level back in order, a
 * chunk at a time. The index (12 bytes per state) stays in memory.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PackedStates } from './checkpoint.ts';

export interface Spill {
  /** Bytes of encodings a level keeps in memory before it writes its full chunks to disk. */
  readonly limitBytes: number;
  /** Where the temporary files go (the system's temporary folder by default). */
  readonly dir?: string;
}

/** What the levels of one search wrote to disk (for its statistics). */
export interface SpillStats {
  chunks: number;
  bytes: number;
}

export class Level<S> {
  /** Chunks grow from 4 KiB to 16 MiB: a level of one state costs little, a level of millions few chunks. */
  private static readonly MAX_CHUNK = 1 << 24;
  private idArr = new Uint32Array(64);
  private n = 0;
  private readonly objects: (S | undefined)[] | null;
  /** The chunks; null for one written to disk. */
  private chunks: (Uint8Array | null)[] = [];
  /** Bytes used in each chunk. */
  private chunkUsed: number[] = [];
  private at: Uint32Array | null;
  private len: Uint32Array | null;
  private used = 0;
  /** Bytes of chunks in memory. */
  private inMemory = 0;
  private folder: string | null = null;
  private fd = -1;
  private fileSize = 0;
  /** Where each chunk written to disk starts in the file. */
  private fileAt: number[] = [];
  /** The last chunk read back from disk. */
  private loaded: { index: number; bytes: Uint8Array } | null = null;

  constructor(
    bytes: boolean,
    private readonly spill: Spill | null = null,
    private readonly spillStats: SpillStats | null = null,
  ) {
    this.objects = bytes ? null : [];
    this.at = bytes ? new Uint32Array(64) : null;
    this.len = bytes ? new Uint32Array(64) : null;
  }

  get length(): number {
    return this.n;
  }

  id(k: number): number {
    return this.idArr[k];
  }

  private growIndex(): void {
    const grow = (a: Uint32Array) => {
      const b = new Uint32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.idArr = grow(this.idArr);
    if (this.at) this.at = grow(this.at);
    if (this.len) this.len = grow(this.len);
  }

  push(id: number, item: S | Uint8Array): void {
    if (this.n === this.idArr.length) this.growIndex();
    this.idArr[this.n] = id;
    if (this.objects) this.objects.push(item as S);
    else {
      const b = item as Uint8Array;
      if (b.length > 0xffff) throw new Error(`an encoding of ${b.length} bytes: at most 65535 in the frontier`);
      let chunk = this.chunks[this.chunks.length - 1];
      if (!chunk || this.used + b.length > chunk.length) {
        if (chunk) this.chunkUsed[this.chunks.length - 1] = this.used;
        if (this.spill && this.inMemory > this.spill.limitBytes) this.spillFullChunks();
        chunk = new Uint8Array(Math.max(Math.min(Level.MAX_CHUNK, 4096 * 2 ** Math.min(this.chunks.length, 12)), b.length));
        this.chunks.push(chunk);
        this.chunkUsed.push(0);
        this.inMemory += chunk.length;
        this.used = 0;
      }
      chunk.set(b, this.used);
      // where it is: the offset in its chunk, and the chunk's index with the length
      this.at![this.n] = this.used;
      this.len![this.n] = (this.chunks.length - 1) * 0x10000 + b.length;
      this.used += b.length;
    }
    this.n++;
  }

  /** Writes every full chunk still in memory to the level's file. */
  private spillFullChunks(): void {
    if (this.fd < 0) {
      this.folder = mkdtempSync(join(this.spill!.dir ?? tmpdir(), 'pkvm-check-frontier-'));
      this.fd = openSync(join(this.folder, 'level.bin'), 'w+');
      // the file lives as long as it is open: nothing is left behind, however the run ends
      rmSync(this.folder, { recursive: true, force: true });
    }
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c];
      if (!chunk) continue;
      const used = this.chunkUsed[c];
      let done = 0;
      while (done < used) done += writeSync(this.fd, chunk, done, used - done, this.fileSize + done);
      this.fileAt[c] = this.fileSize;
      this.fileSize += used;
      this.inMemory -= chunk.length;
      this.chunks[c] = null;
      if (this.spillStats) {
        this.spillStats.chunks++;
        this.spillStats.bytes += used;
      }
    }
  }

  private chunk(c: number): Uint8Array {
    const inMemory = this.chunks[c];
    if (inMemory) return inMemory;
    if (this.loaded?.index === c) return this.loaded.bytes;
    // a fresh buffer per chunk read: a state read from the previous one may still be in use
    const used = this.chunkUsed[c];
    const bytes = new Uint8Array(used);
    let done = 0;
    while (done < used) {
      const r = readSync(this.fd, bytes, done, used - done, this.fileAt[c] + done);
      if (r === 0) throw new Error(`the frontier file of ${this.folder} ends early`);
      done += r;
    }
    this.loaded = { index: c, bytes };
    return bytes;
  }

  /** The k-th item: the state, or a view of its encoding (valid until the level is dropped). */
  item(k: number): S | Uint8Array {
    if (this.objects) return this.objects[k] as S;
    const l = this.len![k];
    const chunk = this.chunk(Math.floor(l / 0x10000));
    const o = this.at![k];
    return chunk.subarray(o, o + (l & 0xffff));
  }

  /** Lets an expanded state's object go (a long level does not hold all its states twice). */
  release(k: number): void {
    if (this.objects) this.objects[k] = undefined;
  }

  /** Removes the level's file, if it has one (the level is not read again). */
  dispose(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
    this.loaded = null;
  }

  /** The states from the k-th on, copied end to end (for checkpoints). */
  pack(from = 0): PackedStates {
    const count = Math.max(0, this.n - from);
    const ids = this.idArr.slice(from, from + count);
    const lengths = new Uint32Array(count);
    let total = 0;
    for (let i = 0; i < count; i++) total += lengths[i] = this.len![from + i] & 0xffff;
    const bytes = new Uint8Array(total);
    for (let i = 0, o = 0; i < count; i++) {
      bytes.set(this.item(from + i) as Uint8Array, o);
      o += lengths[i];
    }
    return { ids, lengths, bytes };
  }

  /** Appends packed states (from a checkpoint). */
  pushPacked(p: PackedStates): void {
    for (let i = 0, o = 0; i < p.ids.length; i++) {
      this.push(p.ids[i], p.bytes.subarray(o, o + p.lengths[i]));
      o += p.lengths[i];
    }
  }
}
