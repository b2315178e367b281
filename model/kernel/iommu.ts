/**
 * The hypervisor's IOMMU hypercalls of RFC v1 (arch/arm64/kvm/hyp/nvhe/iommu/iommu.c):
 * kvm_iommu_map_pages() and kvm_iommu_unmap_pages(), which call the seed's share/unshare_dma
 * around the io-pgtable operations. size_t arithmetic wraps modulo 2^64 as in C.
 */
import { EINVAL, ENODEV, EOVERFLOW, IOMMU_MMIO, IOMMU_PROT_MASK, PAGE_SIZE, RET_HYP_PANIC } from '../constants.ts';
import { DOMAIN_REFS, STE, endpointCount, lifecycleOn } from '../lifecycle.ts';
import { MemProtect } from './mem_protect.ts';

const U64 = 1n << 64n;
const u64 = (x: bigint): bigint => ((x % U64) + U64) % U64;

/** An address past 2^53 is only ever compared against the IOVA space; keep it a (huge) number. */
function clampAddr(x: bigint): number {
  return x > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(x);
}

/** min_t(int, pgcount, ...) in io-pgtable-arm: a size_t count is truncated to a signed int. */
function minInt(x: bigint): number {
  return Number(BigInt.asIntN(32, x));
}

/** More loop iterations than any terminating run of the model's bounded tables can take. */
const LOOP_BOUND = 64;

export class HypIommu extends MemProtect {
  /** handle_to_domain(): a domain id within the table (allocated or not: see domain_refs). */
  handle_to_domain(domain_id: number): number | null {
    return domain_id >= 0 && domain_id < this.config.domains ? domain_id : null;
  }

  // ---------------------------------------------------------------- domains (--domain-lifecycle)

  /** domain->refs: 0 free, 1 allocated, +1 per attached endpoint (1 without the lifecycle: pre-allocated). */
  domain_refs(domain: number): number {
    return lifecycleOn(this.config) ? this.mem.ext(DOMAIN_REFS, domain) : 1;
  }

  set_domain_refs(domain: number, refs: number): void {
    this.mem.setExt(DOMAIN_REFS, domain, refs);
  }

  /**
   * domain->pgd, which a free domain does not have (zeroed by kvm_iommu_donate_page, or by
   * kvm_iommu_free_domain's memset): RFC v1's map and unmap look the domain up without checking
   * its refs, so the io-pgtable walk dereferences a NULL pgd, an EL2 data abort (hyp_panic).
   */
  domain_pgd_valid(domain: number, where: string): boolean {
    if (this.domain_refs(domain) !== 0) return true;
    this.fail('BUG_ON', where, `domain ${domain} is not allocated: the io-pgtable walk dereferences its NULL pgd, an EL2 data abort (hyp_panic)`);
    return false;
  }

  /** kvm_iommu_ops.alloc_iopt → kvm_arm_io_pgtable_alloc. */
  kvm_iommu_alloc_iopt(domain: number): number {
    return this.kvm_arm_io_pgtable_alloc(domain);
  }

  /** kvm_iommu_ops.free_iopt → kvm_arm_io_pgtable_free: the io-pgtable goes, whatever it still maps. */
  kvm_iommu_free_iopt(domain: number): number {
    return this.kvm_arm_io_pgtable_free(domain);
  }

  /** kvm_iommu_alloc_domain(): a free domain gets an empty io-pgtable and refs 1. */
  kvm_iommu_alloc_domain(domain_id: number): number {
    let ret = -EINVAL;
    this.hyp_spin_lock('iommu_lock');
    out: {
      const domain = this.handle_to_domain(domain_id);
      if (domain === null || this.domain_refs(domain)) break out;
      ret = this.kvm_iommu_alloc_iopt(domain);
      if (ret) break out;
      this.set_domain_refs(domain, 1);
    }
    this.hyp_spin_unlock('iommu_lock');
    return ret;
  }

  /** kvm_iommu_free_domain(): only with no endpoint attached (refs 1); mappings are not looked at. */
  kvm_iommu_free_domain(domain_id: number): number {
    let ret = -EINVAL;
    this.hyp_spin_lock('iommu_lock');
    out: {
      const domain = this.handle_to_domain(domain_id);
      if (domain === null || this.domain_refs(domain) !== 1) break out;
      ret = this.kvm_iommu_free_iopt(domain);
      // memset(domain, 0, sizeof(*domain)): refs 0, no pgd
      this.set_domain_refs(domain, 0);
    }
    this.hyp_spin_unlock('iommu_lock');
    return ret;
  }

  /** smmu_get_ste_ptr() fails past the stream table. */
  smmu_ste_valid(sid: number): boolean {
    return sid >= 0 && sid < endpointCount(this.config);
  }

  /** smmu_attach_dev() of the SMMUv3 hyp driver: an invalid STE of the stream gets the domain's io-pgtable. */
  smmu_attach_dev(domain: number, sid: number): number {
    if (!this.smmu_ste_valid(sid) || this.mem.ext(STE, sid) !== 0) return -EINVAL;
    this.mem.setExt(STE, sid, domain + 1);
    return 0;
  }

  /** smmu_detach_dev(): clears the stream's STE, whichever domain it points to. */
  smmu_detach_dev(_domain: number, sid: number): number {
    if (!this.smmu_ste_valid(sid)) return -ENODEV;
    this.mem.setExt(STE, sid, 0);
    return 0;
  }

  /** kvm_iommu_attach_dev(): an allocated domain, below the refs bound (UINT_MAX in C: 1 + every endpoint here). */
  kvm_iommu_attach_dev(domain_id: number, endpoint: number): number {
    let ret = -EINVAL;
    this.hyp_spin_lock('iommu_lock');
    out: {
      const domain = this.handle_to_domain(domain_id);
      if (domain === null) break out;
      const refs = this.domain_refs(domain);
      if (!refs || refs >= 1 + endpointCount(this.config)) break out;
      ret = this.smmu_attach_dev(domain, endpoint);
      if (ret) break out;
      this.set_domain_refs(domain, refs + 1);
    }
    this.hyp_spin_unlock('iommu_lock');
    return ret;
  }

  /** kvm_iommu_detach_dev(): a domain with an endpoint attached (refs > 1); the driver detaches the stream. */
  kvm_iommu_detach_dev(domain_id: number, endpoint: number): number {
    let ret = -EINVAL;
    this.hyp_spin_lock('iommu_lock');
    out: {
      const domain = this.handle_to_domain(domain_id);
      if (domain === null) break out;
      const refs = this.domain_refs(domain);
      if (refs <= 1) break out;
      ret = this.smmu_detach_dev(domain, endpoint);
      if (ret) break out;
      this.set_domain_refs(domain, refs - 1);
    }
    this.hyp_spin_unlock('iommu_lock');
    return ret;
  }

  // ---------------------------------------------------------------- map and unmap

  /** Smallest page size the io-pgtable supports (1 << __ffs(pgsize_bitmap)). */
  iommu_granule(): number {
    return PAGE_SIZE;
  }

  /** The checks kvm_iommu_map_pages makes before taking iommu_lock. */
  kvm_iommu_map_prologue(pgsize: number, pgcount: number, prot: number): number {
    if (prot & ~IOMMU_PROT_MASK) return -EINVAL;
    if (BigInt(pgsize) * BigInt(pgcount) >= U64) return -EOVERFLOW; // __builtin_mul_overflow; iova/paddr + size cannot wrap in the model
    return 0;
  }

  /** The checks kvm_iommu_map_pages makes under iommu_lock: the domain, the alignment. */
  kvm_iommu_map_checks(domain_id: number, iova: number, paddr: number, pgsize: number): number {
    if (this.handle_to_domain(domain_id) === null) return -EINVAL;
    if ((iova | paddr | pgsize) % this.iommu_granule() !== 0) {
      this.branch('kvm_iommu_map_pages: unaligned');
      return -EINVAL;
    }
    return 0;
  }

  /**
   * The io-pgtable part of kvm_iommu_map_pages, once the range is shared: the map loop and, on
   * failure, the unmap of what was mapped (err_unmap). size_t locals wrap modulo 2^64, as in C.
   * Returns 0, or the error after which the caller unshares the range.
   */
  kvm_iommu_map_loop(domain: number, iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): number {
    const pgcount_orig = BigInt(pgcount);
    const iova_orig = iova;
    let count = BigInt(pgcount);
    let cur_iova = BigInt(iova);
    let cur_paddr = BigInt(paddr);
    let mapped = 0n; // declared once and never reset: iopt_map_pages adds to it on every call
    let ret = 0;
    let iterations = 0;
    if (!this.domain_pgd_valid(domain, 'arm_lpae_map_pages')) return RET_HYP_PANIC;
    while (count !== 0n) {
      if (++iterations > LOOP_BOUND) {
        this.hang('kvm_iommu_map_pages', () => `the map loop does not terminate (pgcount ${count})`);
        return RET_HYP_PANIC;
      }
      const added = { v: 0 };
      ret = this.iopt_map_pages(domain, clampAddr(cur_iova), clampAddr(cur_paddr), pgsize, minInt(count), prot, added);
      if (this.fatal) return RET_HYP_PANIC;
      const before = mapped;
      mapped = u64(mapped + BigInt(added.v));
      this.WARN_ON(mapped % BigInt(pgsize) !== 0n, 'kvm_iommu_map_pages', () => `mapped (${mapped}) is not a multiple of pgsize`);
      if (mapped !== before && added.v > 0 && before !== 0n) this.branch('kvm_iommu_map_pages: mapped accumulates across iterations');
      count = u64(count - mapped / BigInt(pgsize));
      if (ret) break;
      if (mapped === 0n) {
        this.hang('kvm_iommu_map_pages', 'iopt_map_pages maps nothing and returns 0 (prot has neither IOMMU_READ nor IOMMU_WRITE): the loop spins with iommu_lock held');
        return RET_HYP_PANIC;
      }
      cur_iova = u64(cur_iova + mapped);
      cur_paddr = u64(cur_paddr + mapped);
    }
    if (!ret) return 0;
    // err_unmap:
    this.branch('kvm_iommu_map_pages: err_unmap');
    const done = u64(pgcount_orig - count);
    if (done !== 0n) this.iopt_unmap_pages(domain, iova_orig, pgsize, minInt(done));
    return ret;
  }

  kvm_iommu_map_pages(domain_id: number, iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): number {
    let ret = this.kvm_iommu_map_prologue(pgsize, pgcount, prot);
    if (ret) return ret;
    const size = pgsize * pgcount;
    this.hyp_spin_lock('iommu_lock');
    out: {
      ret = this.kvm_iommu_map_checks(domain_id, iova, paddr, pgsize);
      if (ret) break out;
      ret = this.__pkvm_host_share_dma(paddr, size, !(prot & IOMMU_MMIO));
      if (ret) break out;
      ret = this.kvm_iommu_map_loop(domain_id, iova, paddr, pgsize, pgcount, prot);
      if (ret && !this.fatal) this.__pkvm_host_unshare_dma(paddr, size);
    }
    // err_unlock:
    this.hyp_spin_unlock('iommu_lock');
    return ret;
  }

  /** The checks kvm_iommu_unmap_pages makes under iommu_lock. */
  kvm_iommu_unmap_checks(domain_id: number, iova: number, pgsize: number): number {
    if (this.handle_to_domain(domain_id) === null) return -EINVAL;
    if ((iova | pgsize) % this.iommu_granule() !== 0) return -EINVAL;
    return 0;
  }

  /**
   * One unit of kvm_iommu_unmap_pages: the physical address behind the IOVA, then the unmap of one
   * pgsize unit (the io-pgtable invalidates the IOTLB on the way). Returns the error, or the
   * address and the bytes unmapped.
   */
  kvm_iommu_unmap_unit(domain: number, iova: number, pgsize: number): { ret: number; paddr: number; unmapped: number } {
    if (!this.domain_pgd_valid(domain, 'arm_lpae_iova_to_phys')) return { ret: RET_HYP_PANIC, paddr: 0, unmapped: 0 };
    const paddr = this.iopt_iova_to_phys(domain, iova);
    if (paddr === 0) return { ret: -EINVAL, paddr, unmapped: 0 };
    /* One page/block at a time: the range may not be physically contiguous. */
    const unmapped = this.iopt_unmap_pages(domain, iova, pgsize, 1);
    if (!unmapped) return { ret: -EINVAL, paddr, unmapped };
    return { ret: 0, paddr, unmapped };
  }

  kvm_iommu_unmap_pages(domain_id: number, iova: number, pgsize: number, pgcount: number): number {
    const sizeBig = BigInt(pgsize) * BigInt(pgcount);
    if (sizeBig >= U64) return -EOVERFLOW;
    const size = Number(sizeBig);
    let ret = -EINVAL;
    let total_unmapped = 0;
    this.hyp_spin_lock('iommu_lock');
    out: {
      if (this.kvm_iommu_unmap_checks(domain_id, iova, pgsize)) break out;
      let iterations = 0;
      while (total_unmapped < size) {
        if (++iterations > LOOP_BOUND) {
          this.hang('kvm_iommu_unmap_pages', 'the unmap loop does not terminate');
          return RET_HYP_PANIC;
        }
        const unit = this.kvm_iommu_unmap_unit(domain_id, iova, pgsize);
        ret = unit.ret;
        if (ret) break out;
        ret = this.__pkvm_host_unshare_dma(unit.paddr, pgsize);
        if (ret) break out;
        iova += unit.unmapped;
        total_unmapped += unit.unmapped;
      }
    }
    this.hyp_spin_unlock('iommu_lock');
    return ret;
  }
}
