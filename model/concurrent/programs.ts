/**
 * The programs of the seed's code paths, step by step, as the kernel interleaves them:
 * a step ends where the code takes a lock (mem_protect's host_lock_component /
 * hyp_lock_component, iommu_lock) and where it touches hyp_page.refcount, which the hyp page
 * allocator also changes under its own pool lock. Each program mirrors the sequential piece it
 * is named after (model/kernel/*.ts); the equivalence of the two is tested.
 *
 * Addresses are pfn indices and sizes are counted in half pages (the seed's size checks see
 * sizes below a page), so that every local is a small integer.
 */
import { EEXIST, EINVAL, EOVERFLOW, ERANGE, IOMMU_MMIO, IOMMU_PROT_MASK, IOMMU_READ, IOMMU_WRITE, IOPT_BLOCK_SIZE, PAGE_SIZE, RET_HYP_PANIC, RET_UNINITIALISED } from '../constants.ts';
import { iommu_pgsize } from '../operations.ts';
import type { Hyp } from '../kernel/hyp.ts';
import { acquire, call, defineProgram, done, goto, pause, type Locals, type Next, type Program } from './program.ts';

const HALF = PAGE_SIZE / 2;
const phys = (h: Hyp, pfn: number) => h.hyp_pfn_to_phys(pfn);

/** The refcount step of __pkvm_host_share_dma_page, shared by the seed's program and its variants. */
function sharePageInc(h: Hyp, l: Record<string, number>): 'next' | 'check' {
  const p = l.phys + l.i;
  h.hyp_assert_lock_held('host_mmu.lock', '__pkvm_host_share_dma_page');
  h.hyp_assert_lock_held('pkvm_pgd_lock', '__pkvm_host_share_dma_page');
  if (!l.is_ram) {
    h.branch('__pkvm_host_share_dma_page: !is_ram');
    l.ret = h.addr_is_memory(phys(h, p)) ? -EINVAL : 0;
    return 'next';
  }
  const c = h.hyp_page_ref_inc_return(h.hyp_phys_to_page(phys(h, p)));
  if (c === RET_HYP_PANIC || h.fatal) return 'next';
  if (h.BUG_ON(c === 0, '__pkvm_host_share_dma_page', 'refcount is 0 after an increment')) return 'next';
  if (c < 0) {
    l.ret = c;
    return 'next';
  }
  l.c = c;
  return 'check';
}

/** __pkvm_host_share_dma(phys, size, is_ram), with its per-page helper inlined. */
export const SHARE_DMA = defineProgram({
  name: '__pkvm_host_share_dma',
  params: ['phys', 'halves', 'is_ram'],
  locals: ['n', 'i', 'ret', 'c'],
  entry: 'entry',
  spells: ['__pkvm_host_share_dma', '__pkvm_host_share_dma_page', '__pkvm_host_unshare_dma_page', '__host_check_page_dma_shared'],
  locks: ['host_mmu.lock', 'pkvm_pgd_lock'],
  fallback: (h, l) => h.__pkvm_host_share_dma(phys(h, l.phys), l.halves * HALF, l.is_ram !== 0),
  steps: {
    entry(h, l) {
      const size = l.halves * HALF;
      if (h.WARN_ON(!h.PAGE_ALIGNED(phys(h, l.phys)) || !h.PAGE_ALIGNED(size), '__pkvm_host_share_dma', () => `unaligned range (phys ${phys(h, l.phys).toString(16)}, size ${size.toString(16)})`))
        return done(-EINVAL);
      l.n = Math.floor(size / PAGE_SIZE);
      l.i = 0;
      l.ret = RET_UNINITIALISED;
      return acquire('host_mmu.lock', 'hyp');
    },
    hyp: () => acquire('pkvm_pgd_lock', 'loop'),
    loop: (_h, l) => (l.i >= l.n ? goto('after') : goto('inc')),
    // hyp_page_ref_inc_return: the refcount is shared with the hyp allocator, which may act next
    inc: (h, l) => (sharePageInc(h, l) === 'next' ? goto('next') : pause('check')),
    check(h, l) {
      const p = phys(h, l.phys + l.i);
      if (l.c === 1) {
        h.branch('__pkvm_host_share_dma_page: first reference, do_share');
        l.ret = h.do_share(h.dmaShare(p));
      } else {
        h.branch('__pkvm_host_share_dma_page: already refcounted, check it is DMA-shared');
        l.ret = h.__host_check_page_dma_shared(p);
      }
      return l.ret ? pause('dec') : goto('next');
    },
    dec(h, l) {
      h.hyp_page_ref_dec(h.hyp_phys_to_page(phys(h, l.phys + l.i)));
      return goto('next');
    },
    next(_h, l) {
      if (l.ret) return goto('after');
      l.i += 1;
      return goto('loop');
    },
    after(h, l) {
      if (l.ret === RET_UNINITIALISED) h.uninitialised('__pkvm_host_share_dma', () => `ret is never assigned when size (${l.halves * HALF}) is below one page`);
      if (!l.ret || h.fatal) return goto('unlock');
      h.branch('__pkvm_host_share_dma: rollback');
      l.i -= 1;
      return goto('rollback');
    },
    rollback(h, l) {
      if (l.i < 0) return goto('unlock');
      const p = phys(h, l.phys + l.i);
      if (!h.addr_is_memory(p)) return goto('rb_next');
      if (!h.hyp_page_ref_dec_and_test(h.hyp_phys_to_page(p))) return goto('rb_next');
      return pause('rb_unshare');
    },
    rb_unshare(h, l) {
      h.branch('__pkvm_host_unshare_dma_page: last reference, do_unshare');
      h.do_unshare(h.dmaShare(phys(h, l.phys + l.i)));
      return goto('rb_next');
    },
    rb_next(_h, l) {
      l.i -= 1;
      return goto('rollback');
    },
    unlock(h, l) {
      h.hyp_unlock_component();
      h.host_unlock_component();
      return done(l.ret);
    },
  },
});

/** __pkvm_host_unshare_dma(phys, size), with its per-page helper inlined. */
export const UNSHARE_DMA = defineProgram({
  name: '__pkvm_host_unshare_dma',
  params: ['phys', 'halves'],
  locals: ['n', 'i', 'ret'],
  entry: 'entry',
  spells: ['__pkvm_host_unshare_dma', '__pkvm_host_unshare_dma_page'],
  locks: ['host_mmu.lock', 'pkvm_pgd_lock'],
  fallback: (h, l) => h.__pkvm_host_unshare_dma(phys(h, l.phys), l.halves * HALF),
  steps: {
    entry(_h, l) {
      l.n = Math.floor((l.halves * HALF) / PAGE_SIZE);
      l.i = 0;
      l.ret = RET_UNINITIALISED;
      return acquire('host_mmu.lock', 'hyp');
    },
    hyp: () => acquire('pkvm_pgd_lock', 'loop'),
    loop(h, l) {
      if (l.i >= l.n) return goto('after');
      const p = phys(h, l.phys + l.i);
      h.hyp_assert_lock_held('host_mmu.lock', '__pkvm_host_unshare_dma_page');
      h.hyp_assert_lock_held('pkvm_pgd_lock', '__pkvm_host_unshare_dma_page');
      l.ret = 0;
      if (!h.addr_is_memory(p)) return goto('next');
      // hyp_page_ref_dec_and_test: shared with the hyp allocator
      if (!h.hyp_page_ref_dec_and_test(h.hyp_phys_to_page(p))) return goto('next');
      return pause('unshare');
    },
    unshare(h, l) {
      h.branch('__pkvm_host_unshare_dma_page: last reference, do_unshare');
      l.ret = h.do_unshare(h.dmaShare(phys(h, l.phys + l.i)));
      return goto('next');
    },
    next(_h, l) {
      if (l.ret) return goto('after');
      l.i += 1;
      return goto('loop');
    },
    after(h, l) {
      if (l.ret === RET_UNINITIALISED) h.uninitialised('__pkvm_host_unshare_dma', () => `ret is never assigned when size (${l.halves * HALF}) is below one page`);
      h.hyp_unlock_component();
      h.host_unlock_component();
      return done(l.ret);
    },
  },
});

/** RFC v1's kvm_iommu_map_pages(domain, iova, paddr, pgsize, pgcount, prot): iommu_lock, share_dma, the io-pgtable. */
export const IOMMU_MAP = defineProgram({
  name: 'kvm_iommu_map_pages',
  params: ['domain', 'slot', 'pfn', 'pgpages', 'pgcount', 'prot'],
  locals: ['ret', 'tmp'],
  entry: 'entry',
  spells: ['kvm_iommu_map_pages'],
  locks: ['iommu_lock', 'host_mmu.lock', 'pkvm_pgd_lock'],
  fallback: (h, l) => h.kvm_iommu_map_pages(l.domain, l.slot * PAGE_SIZE, phys(h, l.pfn), l.pgpages * PAGE_SIZE, l.pgcount, l.prot),
  steps: {
    entry(h, l) {
      l.ret = h.kvm_iommu_map_prologue(l.pgpages * PAGE_SIZE, l.pgcount, l.prot);
      return l.ret ? done(l.ret) : acquire('iommu_lock', 'locked');
    },
    locked(h, l) {
      l.ret = h.kvm_iommu_map_checks(l.domain, l.slot * PAGE_SIZE, phys(h, l.pfn), l.pgpages * PAGE_SIZE);
      if (l.ret) return goto('unlock');
      return call('__pkvm_host_share_dma', [l.pfn, 2 * l.pgpages * l.pgcount, l.prot & IOMMU_MMIO ? 0 : 1], 'ret', 'shared');
    },
    shared(h, l) {
      if (l.ret) return goto('unlock');
      l.ret = h.kvm_iommu_map_loop(l.domain, l.slot * PAGE_SIZE, phys(h, l.pfn), l.pgpages * PAGE_SIZE, l.pgcount, l.prot);
      if (!l.ret || h.fatal) return goto('unlock');
      return call('__pkvm_host_unshare_dma', [l.pfn, 2 * l.pgpages * l.pgcount], 'tmp', 'unlock');
    },
    unlock(h, l) {
      h.hyp_spin_unlock('iommu_lock');
      return done(l.ret);
    },
  },
});

/** RFC v1's kvm_iommu_unmap_pages(domain, iova, pgsize, pgcount): per unit, unmap (and TLBI), then unshare_dma. */
export const IOMMU_UNMAP = defineProgram({
  name: 'kvm_iommu_unmap_pages',
  params: ['domain', 'slot', 'pgpages', 'pgcount'],
  locals: ['ret', 'done', 'pfn', 'unmapped'],
  entry: 'entry',
  spells: ['kvm_iommu_unmap_pages'],
  locks: ['iommu_lock', 'host_mmu.lock', 'pkvm_pgd_lock'],
  fallback: (h, l) => h.kvm_iommu_unmap_pages(l.domain, l.slot * PAGE_SIZE, l.pgpages * PAGE_SIZE, l.pgcount),
  steps: {
    entry: () => acquire('iommu_lock', 'locked'),
    locked(h, l) {
      l.ret = -EINVAL;
      l.done = 0;
      if (h.kvm_iommu_unmap_checks(l.domain, l.slot * PAGE_SIZE, l.pgpages * PAGE_SIZE)) return goto('unlock');
      return goto('unit');
    },
    unit(h, l) {
      if (l.done >= l.pgpages * l.pgcount) return goto('unlock');
      const u = h.kvm_iommu_unmap_unit(l.domain, (l.slot + l.done) * PAGE_SIZE, l.pgpages * PAGE_SIZE);
      l.ret = u.ret;
      if (l.ret) return goto('unlock');
      l.pfn = h.hyp_phys_to_pfn(u.paddr);
      l.unmapped = u.unmapped / PAGE_SIZE;
      return call('__pkvm_host_unshare_dma', [l.pfn, 2 * l.pgpages], 'ret', 'next');
    },
    next(_h, l) {
      if (l.ret) return goto('unlock');
      l.done += l.unmapped;
      return goto('unit');
    },
    unlock(h, l) {
      h.hyp_spin_unlock('iommu_lock');
      return done(l.ret);
    },
  },
});

/**
 * The IOMMU core's next unmap hypercall for IOVA pages [from, to) of the domain at `slot`: the
 * largest page size and count iommu_pgsize allows; its return value goes to local `into`.
 */
function unmapChunk(l: Locals, from: number, to: number, into: string, then: string): Next {
  const iova = (l.slot + from) * PAGE_SIZE;
  const { pgsize, count } = iommu_pgsize(iova, iova, (to - from) * PAGE_SIZE);
  l.pg = pgsize / PAGE_SIZE;
  l.count = count;
  return call('kvm_iommu_unmap_pages', [l.domain, l.slot + from, l.pg, l.count], into, then);
}

/** The Linux IOMMU core's __iommu_map: iommu_pgsize chunks, one hypercall each; on failure, unmap what was mapped. */
export const DRIVER_MAP = defineProgram({
  name: 'iommu_map',
  params: ['domain', 'slot', 'pfn', 'npages'],
  locals: ['done', 'ret', 'pg', 'count'],
  entry: 'chunk',
  steps: {
    chunk(h, l) {
      if (l.done >= l.npages) return done(0);
      const { pgsize, count } = iommu_pgsize((l.slot + l.done) * PAGE_SIZE, phys(h, l.pfn + l.done), (l.npages - l.done) * PAGE_SIZE);
      l.pg = pgsize / PAGE_SIZE;
      l.count = count;
      const prot = 3 | (l.pfn < h.config.ramPages ? 0 : IOMMU_MMIO);
      return call('kvm_iommu_map_pages', [l.domain, l.slot + l.done, l.pfn + l.done, l.pg, l.count, prot], 'ret', 'mapped');
    },
    mapped(h, l) {
      if (l.ret || h.fatal) {
        if (l.done === 0 || h.fatal) return done(l.ret);
        l.pfn = 0; // from here on: how much of the mapped part is unmapped again
        return goto('unwind');
      }
      l.done += l.pg * l.count;
      return goto('chunk');
    },
    // iommu_unmap of the part already mapped, as the core does when a map fails
    unwind(_h, l) {
      if (l.pfn >= l.done) return done(l.ret);
      return unmapChunk(l, l.pfn, l.done, 'npages', 'unwound');
    },
    unwound(h, l) {
      // npages now holds the unmap's return value: the core stops at the first failure
      if (l.npages || h.fatal) return done(l.ret);
      l.pfn += l.pg * l.count;
      return goto('unwind');
    },
  },
});

/** The Linux IOMMU core's __iommu_unmap: iommu_pgsize chunks, one hypercall each. */
export const DRIVER_UNMAP = defineProgram({
  name: 'iommu_unmap',
  params: ['domain', 'slot', 'npages'],
  locals: ['done', 'ret', 'pg', 'count'],
  entry: 'chunk',
  steps: {
    chunk(_h, l) {
      if (l.done >= l.npages) return done(l.ret);
      return unmapChunk(l, l.done, l.npages, 'ret', 'unmapped');
    },
    unmapped(h, l) {
      if (l.ret || h.fatal) return done(l.ret);
      l.done += l.pg * l.count;
      return goto('chunk');
    },
  },
});

/** hyp_pin_shared_mem(from, to) for one page: host and hyp locks, the state checks, the refcount. */
export const PIN = defineProgram({
  name: 'hyp_pin_shared_mem',
  params: ['pfn'],
  locals: ['ret'],
  entry: 'entry',
  spells: ['hyp_pin_shared_mem'],
  locks: ['host_mmu.lock', 'pkvm_pgd_lock'],
  fallback: (h, l) => h.hyp_pin_shared_mem(l.pfn),
  steps: {
    entry: () => acquire('host_mmu.lock', 'hyp'),
    hyp: () => acquire('pkvm_pgd_lock', 'pin'),
    pin(h, l) {
      const p = phys(h, l.pfn);
      l.ret = h.__host_check_page_state_range(p, PAGE_SIZE, 1 /* PKVM_PAGE_SHARED_OWNED */);
      if (!l.ret) l.ret = h.__hyp_check_page_state_range(p, PAGE_SIZE, 2 /* PKVM_PAGE_SHARED_BORROWED */);
      if (!l.ret) h.hyp_page_ref_inc(h.hyp_phys_to_page(p));
      h.hyp_unlock_component();
      h.host_unlock_component();
      return done(l.ret);
    },
  },
});

/**
 * rfc-v1-fixed's __pkvm_host_share_dma(phys, size, is_ram): under the host and hyp locks, each
 * page's state is checked before its refcount is taken (the refcount is the hyp allocator's too).
 */
export const SHARE_DMA_FIXED = defineProgram({
  name: '__pkvm_host_share_dma',
  params: ['phys', 'halves', 'is_ram'],
  locals: ['n', 'i', 'ret'],
  entry: 'entry',
  spells: ['__pkvm_host_share_dma', '__pkvm_host_share_dma_page'],
  locks: ['host_mmu.lock', 'pkvm_pgd_lock'],
  fallback: (h, l) => h.__pkvm_host_share_dma(phys(h, l.phys), l.halves * HALF, l.is_ram !== 0),
  steps: {
    entry(h, l) {
      const size = l.halves * HALF;
      if (!h.PAGE_ALIGNED(phys(h, l.phys)) || !h.PAGE_ALIGNED(size) || size === 0) return done(-EINVAL);
      l.n = size / PAGE_SIZE;
      return acquire('host_mmu.lock', 'hyp');
    },
    hyp: () => acquire('pkvm_pgd_lock', 'page'),
    page(h, l) {
      if (l.i >= l.n) return goto('unlock');
      const p = phys(h, l.phys + l.i);
      h.hyp_assert_lock_held('host_mmu.lock', '__pkvm_host_share_dma_page');
      h.hyp_assert_lock_held('pkvm_pgd_lock', '__pkvm_host_share_dma_page');
      if (!h.addr_is_memory(p)) {
        l.ret = l.is_ram ? -EINVAL : 0;
        return l.ret ? goto('failed') : goto('next');
      }
      if (!l.is_ram) {
        l.ret = -EINVAL;
        return goto('failed');
      }
      const count = h.hyp_page_count(h.hyp_phys_to_page(p));
      if (h.fatal) return goto('unlock');
      l.ret = count === 0 ? h.do_share(h.dmaShare(p)) : h.__host_check_page_dma_shared(p);
      return l.ret ? goto('failed') : pause('inc');
    },
    // hyp_page_ref_inc: shared with the hyp allocator
    inc(h, l) {
      const c = h.hyp_page_ref_inc_return(h.hyp_phys_to_page(phys(h, l.phys + l.i)));
      if (h.fatal) return goto('unlock');
      if (c < 0) {
        l.ret = c;
        return goto('failed');
      }
      return goto('next');
    },
    next(_h, l) {
      l.i += 1;
      return goto('page');
    },
    failed(_h, l) {
      l.i -= 1;
      return goto('rollback');
    },
    rollback(h, l) {
      if (l.i < 0 || h.fatal) return goto('unlock');
      h.__pkvm_host_unshare_dma_page(phys(h, l.phys + l.i));
      l.i -= 1;
      return pause('rollback');
    },
    unlock(h, l) {
      h.hyp_unlock_component();
      h.host_unlock_component();
      return done(l.ret);
    },
  },
});

/** rfc-v1-fixed's __pkvm_host_unshare_dma(phys, size): the seed's, with its arguments checked. */
export const UNSHARE_DMA_FIXED = defineProgram({
  ...UNSHARE_DMA,
  spells: ['__pkvm_host_unshare_dma', '__pkvm_host_unshare_dma_page'],
  fallback: (h, l) => h.__pkvm_host_unshare_dma(phys(h, l.phys), l.halves * HALF),
  steps: {
    ...UNSHARE_DMA.steps,
    entry(h, l) {
      const size = l.halves * HALF;
      if (!h.PAGE_ALIGNED(phys(h, l.phys)) || !h.PAGE_ALIGNED(size) || size === 0) return done(-EINVAL);
      return UNSHARE_DMA.steps.entry(h, l);
    },
  },
});

/**
 * rfc-v1-fixed's kvm_iommu_map_pages, step by step: its checks, iommu_lock, then
 * __pkvm_host_share_dma (which takes the host and hyp locks), then the io-pgtable; on failure,
 * unmap and unshare.
 */
export const IOMMU_MAP_FIXED = defineProgram({
  name: 'kvm_iommu_map_pages',
  params: ['domain', 'slot', 'pfn', 'pgpages', 'pgcount', 'prot'],
  locals: ['ret', 'tmp'],
  entry: 'entry',
  spells: ['kvm_iommu_map_pages'],
  locks: ['iommu_lock', 'host_mmu.lock', 'pkvm_pgd_lock'],
  fallback: (h, l) => h.kvm_iommu_map_pages(l.domain, l.slot * PAGE_SIZE, phys(h, l.pfn), l.pgpages * PAGE_SIZE, l.pgcount, l.prot),
  steps: {
    entry(h, l) {
      const pgsize = l.pgpages * PAGE_SIZE;
      const iova = l.slot * PAGE_SIZE;
      const paddr = phys(h, l.pfn);
      if (l.prot & ~IOMMU_PROT_MASK || !(l.prot & (IOMMU_READ | IOMMU_WRITE))) return done(-EINVAL);
      if (pgsize !== PAGE_SIZE && pgsize !== IOPT_BLOCK_SIZE) return done(-EINVAL);
      if (l.pgcount === 0 || (iova | paddr) % pgsize !== 0) return done(-EINVAL);
      const size = pgsize * l.pgcount;
      if (iova + size > h.iova_space()) return done(-ERANGE);
      if (!Number.isSafeInteger(size)) return done(-EOVERFLOW);
      return acquire('iommu_lock', 'locked');
    },
    locked(h, l) {
      const size = l.pgpages * PAGE_SIZE * l.pgcount;
      const iova = l.slot * PAGE_SIZE;
      l.ret = -EINVAL;
      if (h.handle_to_domain(l.domain) === null) return goto('unlock');
      for (let a = iova; a < iova + size; a += PAGE_SIZE)
        if (h.iopt_iova_to_phys(l.domain, a) !== 0) {
          l.ret = -EEXIST;
          return goto('unlock');
        }
      return call('__pkvm_host_share_dma', [l.pfn, 2 * l.pgpages * l.pgcount, l.prot & IOMMU_MMIO ? 0 : 1], 'ret', 'shared');
    },
    shared(h, l) {
      if (l.ret || h.fatal) return goto('unlock');
      const pgsize = l.pgpages * PAGE_SIZE;
      const iova = l.slot * PAGE_SIZE;
      const paddr = phys(h, l.pfn);
      let mapped = 0;
      let left = l.pgcount;
      while (left && !l.ret) {
        const m = { v: 0 };
        l.ret = h.iopt_map_pages(l.domain, iova + mapped, paddr + mapped, pgsize, left, l.prot, m);
        left -= m.v / pgsize;
        mapped += m.v;
      }
      if (!l.ret) return goto('unlock');
      if (mapped) h.iopt_unmap_pages(l.domain, iova, pgsize, mapped / pgsize);
      return call('__pkvm_host_unshare_dma', [l.pfn, 2 * l.pgpages * l.pgcount], 'tmp', 'unlock');
    },
    unlock(h, l) {
      h.hyp_spin_unlock('iommu_lock');
      return done(l.ret);
    },
  },
});

/** rfc-v1-fixed's kvm_iommu_unmap_pages, step by step: under iommu_lock, page by page, unmap then unshare. */
export const IOMMU_UNMAP_FIXED = defineProgram({
  name: 'kvm_iommu_unmap_pages',
  params: ['domain', 'slot', 'pgpages', 'pgcount'],
  locals: ['ret', 'a'],
  entry: 'entry',
  spells: ['kvm_iommu_unmap_pages'],
  locks: ['iommu_lock', 'host_mmu.lock', 'pkvm_pgd_lock'],
  fallback: (h, l) => h.kvm_iommu_unmap_pages(l.domain, l.slot * PAGE_SIZE, l.pgpages * PAGE_SIZE, l.pgcount),
  steps: {
    entry(h, l) {
      const pgsize = l.pgpages * PAGE_SIZE;
      if ((pgsize !== PAGE_SIZE && pgsize !== IOPT_BLOCK_SIZE) || l.pgcount === 0) return done(-EINVAL);
      if ((l.slot + l.pgpages * l.pgcount) * PAGE_SIZE > h.iova_space()) return done(-ERANGE);
      return acquire('iommu_lock', 'locked');
    },
    locked(h, l) {
      l.ret = -EINVAL;
      if (h.handle_to_domain(l.domain) === null) return goto('unlock');
      for (let a = 0; a < l.pgpages * l.pgcount; a++) if (h.iopt_iova_to_phys(l.domain, (l.slot + a) * PAGE_SIZE) === 0) return goto('unlock');
      l.ret = 0;
      return goto('unit');
    },
    unit(h, l) {
      if (l.ret || l.a >= l.pgpages * l.pgcount) return goto('unlock');
      const iova = (l.slot + l.a) * PAGE_SIZE;
      const phys = h.iopt_iova_to_phys(l.domain, iova);
      if (h.iopt_unmap_pages(l.domain, iova, PAGE_SIZE, 1) !== PAGE_SIZE) {
        l.ret = -EINVAL;
        return goto('unlock');
      }
      l.a += 1;
      return call('__pkvm_host_unshare_dma', [h.hyp_phys_to_pfn(phys), 2], 'ret', 'unit');
    },
    unlock(h, l) {
      h.hyp_spin_unlock('iommu_lock');
      return done(l.ret);
    },
  },
});

export const PROGRAMS: Readonly<Record<string, Program>> = Object.fromEntries(
  [SHARE_DMA, UNSHARE_DMA, IOMMU_MAP, IOMMU_UNMAP, DRIVER_MAP, DRIVER_UNMAP, PIN].map((p) => [p.name, p]),
);

