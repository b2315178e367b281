/**
 * domain.md §7.1: the outcome of the seed's per-page helpers for one page, in the seed's base
 * (SB: jpbrucker/linux, host state in host stage-2 software bits), with host_mmu.lock and
 * pkvm_pgd_lock held. One test per (page situation, call). Each situation is reached through the
 * model's own operations; the helper is then called directly on a hypervisor instance, and the
 * result is cross-checked against the one-page __pkvm_host_share_dma / __pkvm_host_unshare_dma
 * actions of the adversarial host (for one page the wrappers add nothing: no rollback at i = 0).
 */
import { describe, expect, it } from 'vitest';
import {
  EINVAL,
  EPERM,
  IOMMU_READ,
  IOMMU_WRITE,
  PAGE_SIZE,
  PKVM_PAGE_OWNED,
  PKVM_PAGE_SHARED_BORROWED,
  PKVM_PAGE_SHARED_OWNED,
  RET_UNINITIALISED,
  type StoredPageState,
} from '../../model/constants.ts';
import type { PkvmConfig } from '../../model/config.ts';
import type { Hyp } from '../../model/kernel/hyp.ts';
import type { Args } from '../../model/operations.ts';
import type { FailureKind, HostPte } from '../../model/state.ts';
import {
  ZERO,
  annot,
  apply,
  build,
  callHyp,
  failureKinds,
  makeModel,
  refcount,
  valid,
  type StepSpec,
} from './helpers.ts';

const TABLE_CONFIG: Partial<PkvmConfig> = {
  ramPages: 2,
  mmioPages: 1,
  domains: 1,
  iovas: 2,
  guests: 1,
  guestIpas: 1,
  refcountBits: 16,
  maxRange: 2,
  maxPins: 2,
  host: 'adversarial',
};

const RW = IOMMU_READ | IOMMU_WRITE;
const OWNED = PKVM_PAGE_OWNED;
const SO = PKVM_PAGE_SHARED_OWNED;
const SB = PKVM_PAGE_SHARED_BORROWED;
/** A 16-bit refcount decremented below zero, as the atomic ldaddh leaves it before the BUG_ON. */
const UNDERFLOWED = 0xffff;

interface Situation {
  readonly row: string;
  readonly mmioBacked: number;
  readonly pfn: number;
  readonly setup: readonly StepSpec[];
  /** The page before the call, to make sure the setup reached the row's situation. */
  readonly pre: { readonly host: HostPte; readonly rc: number | null; readonly hyp: StoredPageState | null };
}

const shareDma: StepSpec = ['__pkvm_host_share_dma', { phys: 0, size: PAGE_SIZE, is_ram: true }];
const iommuMap: StepSpec = ['kvm_iommu_map_pages', { domain: 0, iova: 0, paddr: 0, pgsize: PAGE_SIZE, pgcount: 1, prot: RW }];
const shareHyp: StepSpec = ['__pkvm_host_share_hyp', { pfn: 0 }];
const donateHyp: StepSpec = ['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 1 }];
const donateGuest: StepSpec = ['__pkvm_host_donate_guest', { pfn: 0, gfn: 0, vm: 0 }];

const SITUATIONS: Record<string, Situation> = {
  ownedZero: { row: 'RAM, host OWNED, zero PTE (never faulted), rc 0', mmioBacked: 0, pfn: 0, setup: [], pre: { host: ZERO, rc: 0, hyp: null } },
  ownedValid: {
    row: 'RAM, host OWNED, valid PTE (host faulted it in), rc 0',
    mmioBacked: 0,
    pfn: 0,
    setup: [['host_access', { pfn: 0 }]],
    pre: { host: valid(OWNED), rc: 0, hyp: null },
  },
  dma1: { row: 'RAM, DMA-shared (kvm_iommu_map_pages), rc 1', mmioBacked: 0, pfn: 0, setup: [iommuMap], pre: { host: valid(SO), rc: 1, hyp: null } },
  dma2: {
    row: 'RAM, DMA-shared (IOMMU map + direct share_dma), rc 2',
    mmioBacked: 0,
    pfn: 0,
    setup: [iommuMap, shareDma],
    pre: { host: valid(SO), rc: 2, hyp: null },
  },
  hypShared: { row: 'RAM, hyp-shared, not pinned, rc 0', mmioBacked: 0, pfn: 0, setup: [shareHyp], pre: { host: valid(SO), rc: 0, hyp: SB } },
  hypPinned: {
    row: 'RAM, hyp-shared and pinned, rc 1',
    mmioBacked: 0,
    pfn: 0,
    setup: [shareHyp, ['hyp_pin_shared_mem', { pfn: 0 }]],
    pre: { host: valid(SO), rc: 1, hyp: SB },
  },
  guestShared: {
    row: 'RAM, shared with a guest (__pkvm_host_share_guest), rc 0',
    mmioBacked: 0,
    pfn: 0,
    setup: [['__pkvm_host_share_guest', { pfn: 0, gfn: 0, vm: 0 }]],
    pre: { host: valid(SO), rc: 0, hyp: null },
  },
  hypOwned: { row: 'RAM, donated to the hyp (free), rc 0', mmioBacked: 0, pfn: 0, setup: [donateHyp], pre: { host: annot(1), rc: 0, hyp: OWNED } },
  hypPoolPage: {
    row: 'RAM, donated to the hyp and allocated (pool page), rc 1',
    mmioBacked: 0,
    pfn: 0,
    setup: [donateHyp, ['hyp_alloc_page', { pfn: 0 }]],
    pre: { host: annot(1), rc: 1, hyp: OWNED },
  },
  guestOwned: { row: 'RAM, donated to a guest, rc 0', mmioBacked: 0, pfn: 0, setup: [donateGuest], pre: { host: annot(2), rc: 0, hyp: null } },
  guestBorrowed: {
    row: 'RAM, borrowed from a guest (__pkvm_guest_share_host), rc 0',
    mmioBacked: 0,
    pfn: 0,
    setup: [donateGuest, ['__pkvm_guest_share_host', { vm: 0, ipa: 0 }]],
    pre: { host: valid(SB), rc: 0, hyp: null },
  },
  mmioUnbacked: { row: 'MMIO, vmemmap unbacked (mmioBacked 0)', mmioBacked: 0, pfn: 2, setup: [], pre: { host: ZERO, rc: null, hyp: null } },
  mmioBacked: { row: 'MMIO, vmemmap backed (mmioBacked 1)', mmioBacked: 1, pfn: 2, setup: [], pre: { host: ZERO, rc: 0, hyp: null } },
};

type Expectation =
  /** Returns normally, no failure of any kind; page state after (unchanged: the whole state equals the one before). */
  | { readonly ret: number; readonly unchanged: true }
  | { readonly ret: number; readonly rc: number | null; readonly host: HostPte; readonly hyp: StoredPageState | null }
  /** The hypervisor stops. */
  | { readonly fatal: FailureKind; readonly rc: number | null };

interface Column {
  readonly name: string;
  call(hyp: Hyp, phys: number): number;
  /** The adversarial host's action doing the same for one page. */
  action(pfn: number): { op: string; args: Args };
}

const COLUMNS = {
  shareRam: {
    name: '__pkvm_host_share_dma_page(p, is_ram=true)',
    call: (h: Hyp, phys: number) => h.__pkvm_host_share_dma_page(phys, true),
    action: (pfn: number) => ({ op: '__pkvm_host_share_dma', args: { phys: pfn, size: PAGE_SIZE, is_ram: true } }),
  },
  shareNotRam: {
    name: '__pkvm_host_share_dma_page(p, is_ram=false)',
    call: (h: Hyp, phys: number) => h.__pkvm_host_share_dma_page(phys, false),
    action: (pfn: number) => ({ op: '__pkvm_host_share_dma', args: { phys: pfn, size: PAGE_SIZE, is_ram: false } }),
  },
  unshare: {
    name: '__pkvm_host_unshare_dma_page(p)',
    call: (h: Hyp, phys: number) => h.__pkvm_host_unshare_dma_page(phys),
    action: (pfn: number) => ({ op: '__pkvm_host_unshare_dma', args: { phys: pfn, size: PAGE_SIZE } }),
  },
} satisfies Record<string, Column>;

type ColumnName = keyof typeof COLUMNS;

const same = (ret: number): Expectation => ({ ret, unchanged: true });
const bug: Expectation = { fatal: 'BUG_ON', rc: UNDERFLOWED };
const notRam = same(-EINVAL);

/** The table, row by row: share(true), share(false), unshare. */
const TABLE: Record<keyof typeof SITUATIONS, Record<ColumnName, Expectation>> = {
  // rc 1, H SO (valid page PTE), 0 | -EINVAL | rc 0 -> BUG (underflow)
  ownedZero: { shareRam: { ret: 0, rc: 1, host: valid(SO), hyp: null }, shareNotRam: notRam, unshare: bug },
  ownedValid: { shareRam: { ret: 0, rc: 1, host: valid(SO), hyp: null }, shareNotRam: notRam, unshare: bug },
  // rc k+1, 0 | -EINVAL | rc k-1, at 0 H OWNED
  dma1: { shareRam: { ret: 0, rc: 2, host: valid(SO), hyp: null }, shareNotRam: notRam, unshare: { ret: 0, rc: 0, host: valid(OWNED), hyp: null } },
  dma2: { shareRam: { ret: 0, rc: 3, host: valid(SO), hyp: null }, shareNotRam: notRam, unshare: { ret: 0, rc: 1, host: valid(SO), hyp: null } },
  // rc 1 -> do_share fails (-EPERM) -> rc 0 | -EINVAL | BUG
  hypShared: { shareRam: same(-EPERM), shareNotRam: notRam, unshare: bug },
  // rc 2 -> check fails (Y SB) -> rc 1, -EPERM | -EINVAL | rc 1 -> 0, do_unshare succeeds, H OWNED
  // (the hyp keeps its SHARED_BORROWED mapping and has lost its pin)
  hypPinned: { shareRam: same(-EPERM), shareNotRam: notRam, unshare: { ret: 0, rc: 0, host: valid(OWNED), hyp: SB } },
  // rc 1 -> do_share fails -> rc 0 | -EINVAL | BUG
  guestShared: { shareRam: same(-EPERM), shareNotRam: notRam, unshare: bug },
  // rc+1 -> fails -> rc restored | -EINVAL | rc 0: BUG; rc >= 1: rc-1 and at 0 do_unshare fails (H NOPAGE), no restore
  hypOwned: { shareRam: same(-EPERM), shareNotRam: notRam, unshare: bug },
  hypPoolPage: { shareRam: same(-EPERM), shareNotRam: notRam, unshare: { ret: -EPERM, rc: 0, host: annot(1), hyp: OWNED } },
  guestOwned: { shareRam: same(-EPERM), shareNotRam: notRam, unshare: bug },
  // rc 1 -> fails -> rc 0 | -EINVAL | BUG
  guestBorrowed: { shareRam: same(-EPERM), shareNotRam: notRam, unshare: bug },
  // EL2 translation fault | 0 (no check) | 0
  mmioUnbacked: { shareRam: { fatal: 'vmemmap-fault', rc: null }, shareNotRam: same(0), unshare: same(0) },
  // SB: -EINVAL (range_is_memory) | 0 (no check) | 0
  mmioBacked: { shareRam: same(-EINVAL), shareNotRam: same(0), unshare: same(0) },
};

describe('domain.md §7.1: seed per-page helpers in the SB base (host + hyp locks held)', () => {
  for (const [key, sit] of Object.entries(SITUATIONS) as [keyof typeof SITUATIONS, Situation][]) {
    describe(sit.row, () => {
      const model = makeModel({ ...TABLE_CONFIG, mmioBacked: sit.mmioBacked });
      const pre = build(model, sit.setup);

      it('setup reaches the situation', () => {
        expect(pre.hostS2[sit.pfn]).toEqual(sit.pre.host);
        expect(refcount(pre, sit.pfn)).toBe(sit.pre.rc);
        expect(pre.hypS1[sit.pfn]).toBe(sit.pre.hyp);
        expect(pre.panic).toBeNull();
      });

      for (const col of Object.keys(COLUMNS) as ColumnName[]) {
        const column: Column = COLUMNS[col];
        const want = TABLE[key][col];
        it(column.name, () => {
          const r = callHyp(model, pre, (h) => column.call(h, h.hyp_pfn_to_phys(sit.pfn)));
          if ('fatal' in want) {
            expect(failureKinds(r.failures)).toEqual([want.fatal]);
            // (the return value is never seen by the host once the hypervisor has stopped)
            expect(r.state.panic?.kind).toBe(want.fatal);
            expect(refcount(r.state, sit.pfn)).toBe(want.rc);
            expect(model.actions(r.state)).toHaveLength(0);
          } else {
            expect(r.failures).toEqual([]);
            expect(r.ret).toBe(want.ret);
            expect(r.state.panic).toBeNull();
            if ('unchanged' in want) expect(r.state).toEqual(pre);
            else {
              expect(refcount(r.state, sit.pfn)).toBe(want.rc);
              expect(r.state.hostS2[sit.pfn]).toEqual(want.host);
              expect(r.state.hypS1[sit.pfn]).toBe(want.hyp);
            }
          }

          // The same through the one-page hypercall-level action of the adversarial host.
          const { op, args } = column.action(sit.pfn);
          const viaOp = apply(model, pre, op, args);
          expect(viaOp.ret).toBe(r.ret);
          expect(failureKinds(viaOp.outcome.failures)).toEqual(failureKinds(r.failures));
          expect(viaOp.state.hostS2).toEqual(r.state.hostS2);
          expect(viaOp.state.hypS1).toEqual(r.state.hypS1);
          expect(viaOp.state.vmemmap).toEqual(r.state.vmemmap);
          expect(viaOp.state.panic?.kind ?? null).toBe(r.state.panic?.kind ?? null);
        });
      }
    });
  }
});

describe('the whole-range wrappers around the per-page helpers', () => {
  const model = makeModel({ ...TABLE_CONFIG, mmioBacked: 1 });

  it('a failure on the second page rolls the first back (rc restored, host OWNED again, as a valid PTE)', () => {
    const pre = build(model, [['__pkvm_host_share_hyp', { pfn: 1 }]]);
    const r = apply(model, pre, '__pkvm_host_share_dma', { phys: 0, size: 2 * PAGE_SIZE, is_ram: true });
    expect(r.ret).toBe(-EPERM);
    expect(r.outcome.failures).toEqual([]);
    expect(r.outcome.branches).toContain('__pkvm_host_share_dma: rollback');
    expect(refcount(r.state, 0)).toBe(0);
    expect(refcount(r.state, 1)).toBe(0);
    expect(r.state.hostS2[0]).toEqual(valid(OWNED));
    expect(r.state.hostS2[1]).toEqual(pre.hostS2[1]);
  });

  it('an unaligned size is refused with a WARN_ON and -EINVAL before any lock is taken', () => {
    const pre = model.initialStates()[0];
    const r = apply(model, pre, '__pkvm_host_share_dma', { phys: 0, size: PAGE_SIZE / 2, is_ram: true });
    expect(r.ret).toBe(-EINVAL);
    expect(failureKinds(r.outcome.failures)).toEqual(['WARN_ON']);
    expect(r.state).toEqual(pre);
  });

  it('size 0 returns the uninitialised ret from both wrappers (the loop never runs)', () => {
    const pre = model.initialStates()[0];
    for (const [op, args] of [
      ['__pkvm_host_share_dma', { phys: 0, size: 0, is_ram: true }],
      ['__pkvm_host_unshare_dma', { phys: 0, size: 0 }],
    ] as const) {
      const r = apply(model, pre, op, args);
      expect(r.ret).toBe(RET_UNINITIALISED);
      expect(r.outcome.failures.map((f) => [f.kind, f.where])).toEqual([['uninitialised', op]]);
      expect(r.state.panic).toBeNull();
    }
  });

  it('unshare_dma has no rollback and no alignment check: a half-page size unshares nothing and returns garbage', () => {
    const pre = build(model, [shareDma]);
    const r = apply(model, pre, '__pkvm_host_unshare_dma', { phys: 0, size: PAGE_SIZE / 2 });
    expect(r.ret).toBe(RET_UNINITIALISED);
    expect(refcount(r.state, 0)).toBe(1);
  });

  it('the seed helpers assert both locks: called without them the model records a lock-assert failure (not a WARN: production build)', () => {
    const pre = model.initialStates()[0];
    const r = callHyp(model, pre, (h) => h.__pkvm_host_share_dma_page(h.hyp_pfn_to_phys(0), true), false);
    expect(r.failures.filter((f) => f.kind === 'WARN_ON')).toEqual([]);
    expect(r.failures.filter((f) => f.kind === 'lock-assert').map((f) => f.where)).toEqual(
      expect.arrayContaining(['__pkvm_host_share_dma_page']),
    );
  });
});
