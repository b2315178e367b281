/**
 * The canonical byte encoding of a state (layout in memory.ts), for fingerprints, for a compact
 * frontier, and as the state of the packed engine. `decode(encode(s))` equals `s` (tested).
 */
import { freeze } from 'immer';
import type { StoredPageState } from './constants.ts';
import type { PkvmConfig } from './config.ts';
import { IOPT_BLOCK_PAGES } from './constants.ts';
import { Layout, PAGE_BYTES, failureId, failureOf, guestPteOf, hostPteCode, hostPteOf, ioBlockOf, ioTableOf } from './memory.ts';
import { isBacked, lockCount, type GuestPte, type HostPte, type IoPte, type PkvmState, type StateExtensions } from './state.ts';

export class PkvmCodec {
  readonly layout: Layout;

  constructor(
    private readonly config: PkvmConfig,
    extensions: StateExtensions = {},
  ) {
    this.layout = new Layout(config, extensions);
  }

  get size(): number {
    return this.layout.size;
  }

  encode(s: PkvmState): Uint8Array {
    const L = this.layout;
    const c = this.config;
    const b = new Uint8Array(L.size);
    for (let p = 0; p < L.pages; p++) {
      const o = p * PAGE_BYTES;
      b[o] = hostPteCode(s.hostS2[p]);
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
    let o = L.vmOffset;
    for (const vm of s.vms) {
      b[o++] = vm.dying ? 1 : 0;
      for (const pte of vm.s2) {
        b[o++] = pte ? pte.pfn + 1 : 0;
        b[o++] = pte ? pte.state : 0;
      }
    }
    o = L.domOffset;
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
      const id = failureId(s.panic);
      b[L.panicOffset] = id & 0xff;
      b[L.panicOffset + 1] = (id >>> 8) & 0xff;
      b[L.panicOffset + 2] = (id >>> 16) & 0xff;
      b[L.panicOffset + 3] = id >>> 24;
    }
    let e = L.extOffset;
    for (const name of L.extNames)
      for (const v of s.ext[name]) {
        b[e++] = v & 0xff;
        b[e++] = v >>> 8;
      }
    s.cpus.forEach((cpu, c) => L.writeCpu(b, c, cpu));
    s.locks.forEach((owner, i) => (b[L.lockOffset + i] = owner + 1));
    s.iotlb.forEach((d, dom) => d.forEach((pfn, slot) => (b[L.iotlbOffset + dom * c.iovas + slot] = pfn === null ? 0 : pfn + 1)));
    if (s.sched) {
      b[L.schedOffset] = s.sched.last + 1;
      b[L.schedOffset + 1] = s.sched.preemptions;
    }
    return b;
  }

  decode(b: Uint8Array): PkvmState {
    const c = this.config;
    const L = this.layout;
    const hostS2: HostPte[] = [];
    const hypS1: (StoredPageState | null)[] = [];
    const vmemmap: ({ refcount: number; flags: number } | null)[] = [];
    const pins: number[] = [];
    const pool: number[] = [];
    const dmaRefs: number[] = [];
    for (let p = 0; p < L.pages; p++) {
      const o = p * PAGE_BYTES;
      hostS2.push(hostPteOf(b[o]));
      hypS1.push(b[o + 1] === 0 ? null : ((b[o + 1] - 1) as StoredPageState));
      vmemmap.push(isBacked(c, p) ? { refcount: b[o + 2] | (b[o + 3] << 8), flags: b[o + 4] } : null);
      pins.push(b[o + 5]);
      pool.push(b[o + 6]);
      dmaRefs.push(b[o + 7]);
    }
    let o = L.vmOffset;
    const vms = [];
    for (let v = 0; v < c.guests; v++) {
      const dying = b[o++] === 1;
      const s2: (GuestPte | null)[] = [];
      for (let i = 0; i < c.guestIpas; i++) {
        const pfn1 = b[o++];
        const st = b[o++];
        s2.push(pfn1 === 0 ? null : guestPteOf(pfn1 - 1, st as StoredPageState));
      }
      vms.push({ dying, s2 });
    }
    o = L.domOffset;
    const iommu = [];
    for (let d = 0; d < c.domains; d++) {
      const pgd: IoPte[] = [];
      for (let k = 0; k < c.iovas / IOPT_BLOCK_PAGES; k++) {
        const kind = b[o];
        pgd.push(kind === 0 ? null : kind === 1 ? ioBlockOf(b[o + 1]) : ioTableOf(b[o + 1] === 0 ? null : b[o + 1] - 1, b[o + 2] === 0 ? null : b[o + 2] - 1));
        o += 3;
      }
      iommu.push({ pgd });
    }
    const po = L.panicOffset;
    const panic = failureOf((b[po] | (b[po + 1] << 8) | (b[po + 2] << 16) | (b[po + 3] << 24)) >>> 0);
    const ext: Record<string, number[]> = {};
    let e = L.extOffset;
    L.extNames.forEach((name, k) => {
      const arr: number[] = [];
      for (let i = 0; i < L.extLengths[k]; i++, e += 2) arr.push(b[e] | (b[e + 1] << 8));
      ext[name] = arr;
    });
    const cpus = c.cpus > 1 ? Array.from({ length: c.cpus }, (_, k) => L.readCpu(b, k)) : [];
    const locks = c.cpus > 1 ? Array.from({ length: lockCount(c) }, (_, k) => b[L.lockOffset + k] - 1) : [];
    const iotlb = c.iotlb ? Array.from({ length: c.domains }, (_, d) => Array.from({ length: c.iovas }, (_, slot) => (b[L.iotlbOffset + d * c.iovas + slot] === 0 ? null : b[L.iotlbOffset + d * c.iovas + slot] - 1))) : [];
    const sched = c.preemptions >= 0 ? { last: b[L.schedOffset] - 1, preemptions: b[L.schedOffset + 1] } : null;
    return freeze({ hostS2, hypS1, vmemmap, vms, iommu, ghost: { pins, pool, dmaRefs }, panic, ext, cpus, locks, iotlb, sched }, true);
  }
}
