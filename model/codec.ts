/**
 * The canonical byte encoding of a state, for fingerprints and for a compact frontier. The layout
 * is fixed by the configuration; `decode(encode(s))` equals `s` (tested).
 */
import { freeze } from 'immer';
import type { AnnotationOwner, StoredPageState } from './constants.ts';
import { type PkvmConfig, totalPages } from './config.ts';
import { IOPT_BLOCK_PAGES } from './constants.ts';
import { ZERO_PTE, extensionLength, isBacked, type GuestPte, type HostPte, type HypFailure, type IoPte, type PkvmState, type StateExtensions } from './state.ts';

const PAGE_BYTES = 8;

const HOST_PTES: HostPte[] = [];
HOST_PTES[0] = ZERO_PTE;
for (const state of [0, 1, 2] as StoredPageState[]) HOST_PTES[1 + state] = freeze({ kind: 'valid', state });
for (const owner of [1, 2, 3] as AnnotationOwner[]) HOST_PTES[8 + owner] = freeze({ kind: 'annot', owner });

function hostCode(p: HostPte): number {
  return p.kind === 'zero' ? 0 : p.kind === 'valid' ? 1 + p.state : 8 + p.owner;
}

export class PkvmCodec {
  readonly size: number;
  private readonly pages: number;
  private readonly vmOffset: number;
  private readonly domOffset: number;
  private readonly panicOffset: number;
  private readonly extOffset: number;
  private readonly extNames: readonly string[];
  private readonly extLengths: readonly number[];
  private readonly failures = new Map<number, HypFailure>();
  private readonly guestPtes = new Map<number, GuestPte>();
  private readonly blocks = new Map<number, IoPte>();
  private readonly tables = new Map<number, IoPte>();

  constructor(
    private readonly config: PkvmConfig,
    extensions: StateExtensions = {},
  ) {
    this.pages = totalPages(config);
    this.vmOffset = this.pages * PAGE_BYTES;
    this.domOffset = this.vmOffset + config.guests * (1 + 2 * config.guestIpas);
    this.panicOffset = this.domOffset + config.domains * (config.iovas / IOPT_BLOCK_PAGES) * 3;
    this.extOffset = this.panicOffset + 4;
    this.extNames = Object.keys(extensions).sort();
    this.extLengths = this.extNames.map((n) => extensionLength(extensions[n], config));
    this.size = this.extOffset + 2 * this.extLengths.reduce((a, b) => a + b, 0);
  }

  /** A panic is encoded as a 32-bit hash of its text: canonical across model instances. */
  private failureId(f: HypFailure): number {
    const key = `${f.kind}\u0000${f.where}\u0000${f.detail}`;
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h = (h >>> 0) || 1;
    if (!this.failures.has(h)) this.failures.set(h, f);
    return h;
  }

  encode(s: PkvmState): Uint8Array {
    const b = new Uint8Array(this.size);
    for (let p = 0; p < this.pages; p++) {
      const o = p * PAGE_BYTES;
      b[o] = hostCode(s.hostS2[p]);
      const h = s.hypS1[p];
      b[o + 1] = h === null ? 0 : 1 + h;
      const v = s.vmemmap[p];
      if (v) {
        b[o + 2] = v.refcount & 0xff;
        b[o + 3] = v.refcount >>> 8;
        b[o + 4] = v.flags;
      }
      b[o + 5] = s.ghost.pins[p];
      b[o + 6] = s.ghost.pool[p];
      b[o + 7] = s.ghost.dmaRefs[p];
    }
    let o = this.vmOffset;
    for (const vm of s.vms) {
      b[o++] = vm.dying ? 1 : 0;
      for (const pte of vm.s2) {
        b[o++] = pte ? pte.pfn + 1 : 0;
        b[o++] = pte ? pte.state : 0;
      }
    }
    o = this.domOffset;
    for (const dom of s.iommu)
      for (const pte of dom.pgd) {
        if (pte === null) o += 3;
        else if (pte.type === 'block') {
          b[o++] = 1;
          b[o++] = pte.pfn;
          o++;
        } else {
          b[o++] = 2;
          b[o++] = pte.ptes[0] === null ? 0 : pte.ptes[0] + 1;
          b[o++] = pte.ptes[1] === null ? 0 : pte.ptes[1] + 1;
        }
      }
    if (s.panic) {
      const id = this.failureId(s.panic);
      b[this.panicOffset] = id & 0xff;
      b[this.panicOffset + 1] = (id >>> 8) & 0xff;
      b[this.panicOffset + 2] = (id >>> 16) & 0xff;
      b[this.panicOffset + 3] = id >>> 24;
    }
    let e = this.extOffset;
    for (const name of this.extNames)
      for (const v of s.ext[name]) {
        b[e++] = v & 0xff;
        b[e++] = v >>> 8;
      }
    return b;
  }

  decode(b: Uint8Array): PkvmState {
    const c = this.config;
    const hostS2: HostPte[] = [];
    const hypS1: (StoredPageState | null)[] = [];
    const vmemmap: ({ refcount: number; flags: number } | null)[] = [];
    const pins: number[] = [];
    const pool: number[] = [];
    const dmaRefs: number[] = [];
    for (let p = 0; p < this.pages; p++) {
      const o = p * PAGE_BYTES;
      hostS2.push(HOST_PTES[b[o]]);
      hypS1.push(b[o + 1] === 0 ? null : ((b[o + 1] - 1) as StoredPageState));
      vmemmap.push(isBacked(c, p) ? { refcount: b[o + 2] | (b[o + 3] << 8), flags: b[o + 4] } : null);
      pins.push(b[o + 5]);
      pool.push(b[o + 6]);
      dmaRefs.push(b[o + 7]);
    }
    let o = this.vmOffset;
    const vms = [];
    for (let v = 0; v < c.guests; v++) {
      const dying = b[o++] === 1;
      const s2: (GuestPte | null)[] = [];
      for (let i = 0; i < c.guestIpas; i++) {
        const pfn1 = b[o++];
        const st = b[o++];
        s2.push(pfn1 === 0 ? null : this.guestPte(pfn1 - 1, st as StoredPageState));
      }
      vms.push({ dying, s2 });
    }
    o = this.domOffset;
    const iommu = [];
    for (let d = 0; d < c.domains; d++) {
      const pgd: IoPte[] = [];
      for (let k = 0; k < c.iovas / IOPT_BLOCK_PAGES; k++) {
        const kind = b[o];
        pgd.push(kind === 0 ? null : kind === 1 ? this.block(b[o + 1]) : this.table(b[o + 1], b[o + 2]));
        o += 3;
      }
      iommu.push({ pgd });
    }
    const o2 = this.panicOffset;
    const pid = (b[o2] | (b[o2 + 1] << 8) | (b[o2 + 2] << 16) | (b[o2 + 3] << 24)) >>> 0;
    const ext: Record<string, number[]> = {};
    let e = this.extOffset;
    this.extNames.forEach((name, k) => {
      const arr: number[] = [];
      for (let i = 0; i < this.extLengths[k]; i++, e += 2) arr.push(b[e] | (b[e + 1] << 8));
      ext[name] = arr;
    });
    return freeze({ hostS2, hypS1, vmemmap, vms, iommu, ghost: { pins, pool, dmaRefs }, panic: pid === 0 ? null : (this.failures.get(pid) ?? null), ext }, true);
  }

  private guestPte(pfn: number, state: StoredPageState): GuestPte {
    const k = pfn * 4 + state;
    let p = this.guestPtes.get(k);
    if (!p) this.guestPtes.set(k, (p = freeze({ pfn, state })));
    return p;
  }

  private block(pfn: number): IoPte {
    let p = this.blocks.get(pfn);
    if (!p) this.blocks.set(pfn, (p = freeze({ type: 'block', pfn })));
    return p;
  }

  private table(a: number, b: number): IoPte {
    const k = a * 256 + b;
    let p = this.tables.get(k);
    if (!p) this.tables.set(k, (p = freeze({ type: 'table', ptes: [a === 0 ? null : a - 1, b === 0 ? null : b - 1] }, true)));
    return p;
  }
}
