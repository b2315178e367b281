/**
 * The operations of the model, as data: who performs each, which arguments it takes within the
 * bounds, when it is enabled, and the kernel function it calls. An action is an operation name
 * with its arguments; the model's transitions are exactly these actions.
 */
import {
  IOMMU_MMIO,
  IOMMU_READ,
  IOMMU_WRITE,
  IOPT_BLOCK_SIZE,
  PAGE_SIZE,
  PKVM_PAGE_OWNED,
  iommuProtName,
} from './constants.ts';
import { type HostBehaviour, type PkvmConfig, totalPages } from './config.ts';
import type { StateReader } from './memory.ts';
import type { Hyp } from './kernel/hyp.ts';
import type { Lock } from './kernel/base.ts';
import { deviceTranslate, softwareTranslate } from './views.ts';
import { POOL_OPERATIONS } from './pool-operations.ts';
import { IOMMU_PAGES } from './pool.ts';
import { domainAttached, domainRefs, endpointCount, lifecycleOn, steDomain } from './lifecycle.ts';

export type Actor = 'host' | 'guest' | 'hyp' | 'device' | 'environment';

export type ArgValue = number | boolean;
export type Args = Readonly<Record<string, ArgValue>>;

export interface PkvmAction {
  readonly op: string;
  readonly args: Args;
  /** Concurrent mode: the CPU that starts the operation or takes its next step ('step'). */
  readonly cpu?: number;
  /** Concurrent mode: index of the operation among those CPUs can start (internal). */
  readonly entry?: number;
}

/** How an argument is printed: plain number, hex address, IOMMU prot bits. */
export type ArgFormat = 'num' | 'phys' | 'iova' | 'size' | 'prot' | 'bool';

export interface OperationSpec {
  readonly name: string;
  readonly actor: Actor;
  readonly description: string;
  /** Host behaviours in which the host performs this operation (host operations only). */
  readonly hosts?: readonly HostBehaviour[];
  readonly argFormats: Readonly<Record<string, ArgFormat>>;
  /** Arguments within the bounds, independent of the state (computed once per configuration). */
  staticArgs(config: PkvmConfig): Args[];
  /** Whether the action is enabled in this state (default: always). */
  enabled?(state: StateReader, args: Args, config: PkvmConfig): boolean;
  /** Runs the operation on the hypervisor; returns the value the caller sees. */
  run(hyp: Hyp, args: Args): number;
  /** Spec bookkeeping after a non-fatal run (ghost references taken or dropped by contract). */
  ghost?(hyp: Hyp, args: Args, ret: number): void;
  /**
   * Concurrent mode, operations that do not run on a CPU (the hypervisor's own activity): the
   * locks the operation takes; it runs atomically between CPU steps when they are all free.
   * (Operations on CPUs run their code step by step and take their locks as the code does.)
   */
  locks?(args: Args): Lock[];
}

const ALL: readonly HostBehaviour[] = ['driver', 'iommu', 'adversarial'];
const UNTRUSTED: readonly HostBehaviour[] = ['iommu', 'adversarial'];

const phys = (hyp: Hyp, pfn: number) => hyp.hyp_pfn_to_phys(pfn);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** pfns an honest host names in a memory hypercall (its RAM), or any pfn of the model. */
function pfnArgs(config: PkvmConfig, honest: boolean): number[] {
  return range(honest ? config.ramPages : totalPages(config));
}

function iovaSpace(config: PkvmConfig): number {
  return config.iovas * PAGE_SIZE;
}

/** iommu_pgsize() of the Linux IOMMU core: the largest page size that fits alignment and size. */
export function iommu_pgsize(iova: number, paddr: number, size: number): { pgsize: number; count: number } {
  const addrMerge = iova | paddr;
  let pgsize = PAGE_SIZE;
  if (size >= IOPT_BLOCK_SIZE && addrMerge % IOPT_BLOCK_SIZE === 0) pgsize = IOPT_BLOCK_SIZE;
  if (pgsize === IOPT_BLOCK_SIZE) return { pgsize, count: Math.floor(size / pgsize) };
  // next larger page size: is it worth stopping at its boundary?
  if (((iova ^ paddr) & (IOPT_BLOCK_SIZE - 1)) === 0) {
    const offset = IOPT_BLOCK_SIZE - (addrMerge & (IOPT_BLOCK_SIZE - 1));
    if (offset + IOPT_BLOCK_SIZE <= size) size = offset;
  }
  return { pgsize, count: Math.floor(size / pgsize) };
}

function iovaSlotsFree(state: StateReader, domain: number, first: number, n: number): boolean {
  for (let i = first; i < first + n; i++) if (softwareTranslate(state, domain, i) !== null) return false;
  return true;
}

function iovaSlotsMapped(state: StateReader, domain: number, first: number, n: number): boolean {
  for (let i = first; i < first + n; i++) if (softwareTranslate(state, domain, i) === null) return false;
  return true;
}

export const OPERATIONS: readonly OperationSpec[] = [
  // ---------------------------------------------------------------- host CPU
  {
    name: 'host_access',
    actor: 'host',
    hosts: ALL,
    description: 'The host touches a page: no fault if mapped, else handle_host_mem_abort() maps it lazily or injects an abort.',
    argFormats: { pfn: 'num' },
    staticArgs: (c) => range(totalPages(c)).map((pfn) => ({ pfn })),
    run(hyp, a) {
      const addr = phys(hyp, (a.pfn as number));
      if (hyp.host_s2_leaf(addr).kind === 'valid') {
        hyp.recordAccess('host', (a.pfn as number));
        return 0;
      }
      const ret = hyp.handle_host_mem_abort(addr);
      if (ret === 0) hyp.recordAccess('host', (a.pfn as number));
      return ret;
    },
  },
  // ---------------------------------------------------------------- host hypercalls
  {
    name: '__pkvm_host_share_hyp',
    actor: 'host',
    hosts: ALL,
    description: 'Share a host page with the hypervisor (host SHARED_OWNED, hyp SHARED_BORROWED).',
    argFormats: { pfn: 'num' },
    staticArgs: (c) => pfnArgs(c, false).map((pfn) => ({ pfn })),
    enabled: (_s, a, c) => c.host !== 'driver' || (a.pfn as number) < c.ramPages,
    run: (hyp, a) => hyp.__pkvm_host_share_hyp((a.pfn as number)),
  },
  {
    name: '__pkvm_host_unshare_hyp',
    actor: 'host',
    hosts: ALL,
    description: 'Take back a page shared with the hypervisor; -EBUSY while it is pinned.',
    argFormats: { pfn: 'num' },
    staticArgs: (c) => pfnArgs(c, false).map((pfn) => ({ pfn })),
    enabled: (_s, a, c) => c.host !== 'driver' || (a.pfn as number) < c.ramPages,
    run: (hyp, a) => hyp.__pkvm_host_unshare_hyp((a.pfn as number)),
  },
  {
    name: '__pkvm_host_donate_hyp',
    actor: 'host',
    hosts: ALL,
    description: 'Donate host pages to the hypervisor (e.g. to refill its memcache).',
    argFormats: { pfn: 'num', nr_pages: 'num' },
    staticArgs: (c) =>
      pfnArgs(c, false).flatMap((pfn) =>
        range(c.maxRange)
          .map((i) => i + 1)
          .filter((n) => pfn + n <= totalPages(c))
          .map((nr_pages) => ({ pfn, nr_pages })),
      ),
    enabled: (_s, a, c) => c.host !== 'driver' || (a.pfn as number) + (a.nr_pages as number) <= c.ramPages,
    run: (hyp, a) => hyp.__pkvm_host_donate_hyp((a.pfn as number), (a.nr_pages as number)),
  },
  {
    name: 'hyp_pin_shared_mem',
    actor: 'host',
    hosts: ALL,
    description: 'The hypervisor pins a page the host shared with it (host vCPU/VM state), on behalf of a host hypercall.',
    argFormats: { pfn: 'num' },
    staticArgs: (c) => (c.maxPins > 0 ? pfnArgs(c, true).map((pfn) => ({ pfn })) : []),
    enabled: (s, a, c) => s.ghost('pins', (a.pfn as number)) < c.maxPins,
    run: (hyp, a) => hyp.hyp_pin_shared_mem((a.pfn as number)),
    ghost(hyp, a, ret) {
      if (ret === 0) hyp.mem.setGhost('pins', (a.pfn as number), hyp.mem.ghost('pins', (a.pfn as number)) + 1);
    },
  },
  {
    name: '__pkvm_host_share_guest',
    actor: 'host',
    hosts: ALL,
    description: 'Share a host page with a guest at a guest IPA (host SHARED_OWNED, guest SHARED_BORROWED).',
    argFormats: { pfn: 'num', gfn: 'num', vm: 'num' },
    staticArgs: (c) => range(c.guests).flatMap((vm) => range(c.guestIpas).flatMap((gfn) => pfnArgs(c, false).map((pfn) => ({ pfn, gfn, vm })))),
    enabled: (s, a, c) => !s.vmDying((a.vm as number)) && (c.host !== 'driver' || (a.pfn as number) < c.ramPages),
    run: (hyp, a) => hyp.__pkvm_host_share_guest((a.pfn as number), (a.gfn as number), (a.vm as number)),
  },
  {
    name: '__pkvm_host_donate_guest',
    actor: 'host',
    hosts: ALL,
    description: 'Donate a host page to a guest at a guest IPA (host annotated GUEST, guest OWNED).',
    argFormats: { pfn: 'num', gfn: 'num', vm: 'num' },
    staticArgs: (c) => range(c.guests).flatMap((vm) => range(c.guestIpas).flatMap((gfn) => pfnArgs(c, false).map((pfn) => ({ pfn, gfn, vm })))),
    enabled: (s, a, c) => !s.vmDying((a.vm as number)) && (c.host !== 'driver' || (a.pfn as number) < c.ramPages),
    run: (hyp, a) => hyp.__pkvm_host_donate_guest((a.pfn as number), (a.gfn as number), (a.vm as number)),
  },
  {
    name: '__pkvm_teardown_vm',
    actor: 'host',
    hosts: ALL,
    description: 'Tear a guest down: its stage-2 is destroyed and its pages are flagged for reclaim.',
    argFormats: { vm: 'num' },
    staticArgs: (c) => range(c.guests).map((vm) => ({ vm })),
    enabled: (s, a) => !s.vmDying((a.vm as number)),
    run: (hyp, a) => hyp.__pkvm_teardown_vm((a.vm as number)),
  },
  {
    name: '__pkvm_host_reclaim_page',
    actor: 'host',
    hosts: ALL,
    description: 'Reclaim a page of a torn-down guest (poisoned if the guest owned it).',
    argFormats: { pfn: 'num' },
    staticArgs: (c) => pfnArgs(c, false).map((pfn) => ({ pfn })),
    enabled: (_s, a, c) => c.host !== 'driver' || (a.pfn as number) < c.ramPages,
    run: (hyp, a) => hyp.__pkvm_host_reclaim_page((a.pfn as number)),
  },
  // ---------------------------------------------------------------- IOMMU, as the Linux driver drives it
  {
    name: 'iommu_map',
    actor: 'host',
    hosts: ['driver'],
    description:
      'The Linux IOMMU core maps a free IOVA range onto host pages (RAM, or MMIO with IOMMU_MMIO): __iommu_map() splits it with iommu_pgsize() into kvm_iommu_map_pages() hypercalls and unmaps what it mapped if one fails.',
    argFormats: { domain: 'num', iova: 'iova', pfn: 'num', npages: 'num' },
    staticArgs(c) {
      const out: Args[] = [];
      for (let domain = 0; domain < c.domains; domain++)
        for (let slot = 0; slot < c.iovas; slot++)
          for (let pfn = 0; pfn < totalPages(c); pfn++)
            for (let npages = 1; npages <= c.maxRange; npages++) {
              if (slot + npages > c.iovas || pfn + npages > totalPages(c)) continue;
              const ram = pfn < c.ramPages;
              if (ram !== pfn + npages - 1 < c.ramPages) continue; // one kind of memory per mapping
              out.push({ domain, iova: slot * PAGE_SIZE, pfn, npages });
            }
      return out;
    },
    enabled: (s, a) => domainRefs(s, a.domain as number) > 0 && iovaSlotsFree(s, (a.domain as number), (a.iova as number) / PAGE_SIZE, (a.npages as number)),
    run(hyp, a) {
      const domain = (a.domain as number);
      const pfn = (a.pfn as number);
      const prot = IOMMU_READ | IOMMU_WRITE | (pfn < hyp.config.ramPages ? 0 : IOMMU_MMIO);
      let iova = (a.iova as number);
      let paddr = phys(hyp, pfn);
      let size = (a.npages as number) * PAGE_SIZE;
      const orig = { iova, size };
      let ret = 0;
      while (size) {
        const { pgsize, count } = iommu_pgsize(iova, paddr, size);
        ret = hyp.kvm_iommu_map_pages(domain, iova, paddr, pgsize, count, prot);
        const [i0, p0] = [iova, paddr];
        hyp.recordSubcall(() => `kvm_iommu_map_pages(domain=${domain}, iova=0x${i0.toString(16)}, paddr=0x${p0.toString(16)}, pgsize=0x${pgsize.toString(16)}, pgcount=${count}, prot=${iommuProtName(prot)})`, ret);
        if (ret || hyp.fatal) break;
        const mapped = pgsize * count;
        size -= mapped;
        iova += mapped;
        paddr += mapped;
      }
      if (ret && !hyp.fatal && orig.size - size > 0) unmapRange(hyp, domain, orig.iova, orig.size - size);
      return ret;
    },
  },
  {
    name: 'iommu_unmap',
    actor: 'host',
    hosts: ['driver'],
    description:
      'The Linux IOMMU core unmaps a fully mapped IOVA range (which several maps may have built, as dma_unmap_sg does): __iommu_unmap() splits it with iommu_pgsize() into kvm_iommu_unmap_pages() hypercalls.',
    argFormats: { domain: 'num', iova: 'iova', npages: 'num' },
    staticArgs(c) {
      const out: Args[] = [];
      for (let domain = 0; domain < c.domains; domain++)
        for (let slot = 0; slot < c.iovas; slot++)
          for (let npages = 1; npages <= c.maxRange && slot + npages <= c.iovas; npages++) out.push({ domain, iova: slot * PAGE_SIZE, npages });
      return out;
    },
    enabled: (s, a) => domainRefs(s, a.domain as number) > 0 && iovaSlotsMapped(s, (a.domain as number), (a.iova as number) / PAGE_SIZE, (a.npages as number)),
    run: (hyp, a) => unmapRange(hyp, (a.domain as number), (a.iova as number), (a.npages as number) * PAGE_SIZE),
  },
  // ---------------------------------------------------------------- SMMU domains, as the Linux driver drives them (--domain-lifecycle)
  {
    name: 'iommu_domain_alloc',
    actor: 'host',
    hosts: ['driver'],
    description: 'The pKVM IOMMU driver allocates a domain it does not use yet: kvm_iommu_alloc_domain().',
    argFormats: { domain: 'num' },
    staticArgs: (c) => (lifecycleOn(c) ? range(c.domains).map((domain) => ({ domain })) : []),
    enabled: (s, a) => domainRefs(s, a.domain as number) === 0,
    run: (hyp, a) => hyp.kvm_iommu_alloc_domain(a.domain as number),
  },
  {
    name: 'iommu_domain_free',
    actor: 'host',
    hosts: ['driver'],
    description: 'The driver frees a domain once no device is attached to it and nothing is mapped in it: kvm_iommu_free_domain().',
    argFormats: { domain: 'num' },
    staticArgs: (c) => (lifecycleOn(c) ? range(c.domains).map((domain) => ({ domain })) : []),
    enabled: (s, a) => domainRefs(s, a.domain as number) === 1 && iovaSlotsFree(s, a.domain as number, 0, s.config.iovas),
    run: (hyp, a) => hyp.kvm_iommu_free_domain(a.domain as number),
  },
  {
    name: 'iommu_attach_device',
    actor: 'host',
    hosts: ['driver'],
    description: 'The driver attaches a detached endpoint to an allocated domain: kvm_iommu_attach_dev().',
    argFormats: { endpoint: 'num', domain: 'num' },
    staticArgs: (c) => range(endpointCount(c)).flatMap((endpoint) => range(c.domains).map((domain) => ({ endpoint, domain }))),
    enabled: (s, a) => steDomain(s, a.endpoint as number) < 0 && domainRefs(s, a.domain as number) > 0,
    run: (hyp, a) => hyp.kvm_iommu_attach_dev(a.domain as number, a.endpoint as number),
  },
  {
    name: 'iommu_detach_device',
    actor: 'host',
    hosts: ['driver'],
    description: 'The driver detaches an endpoint from the domain it is attached to: kvm_iommu_detach_dev().',
    argFormats: { endpoint: 'num', domain: 'num' },
    staticArgs: (c) => range(endpointCount(c)).flatMap((endpoint) => range(c.domains).map((domain) => ({ endpoint, domain }))),
    enabled: (s, a) => steDomain(s, a.endpoint as number) === (a.domain as number),
    run: (hyp, a) => hyp.kvm_iommu_detach_dev(a.domain as number, a.endpoint as number),
  },
  // ---------------------------------------------------------------- IOMMU hypercalls with any arguments
  {
    name: 'kvm_iommu_alloc_domain',
    actor: 'host',
    hosts: UNTRUSTED,
    description: 'The domain allocation hypercall (--domain-lifecycle), with any domain.',
    argFormats: { domain: 'num' },
    staticArgs: (c) => (lifecycleOn(c) ? range(c.domains).map((domain) => ({ domain })) : []),
    run: (hyp, a) => hyp.kvm_iommu_alloc_domain(a.domain as number),
  },
  {
    name: 'kvm_iommu_free_domain',
    actor: 'host',
    hosts: UNTRUSTED,
    description: 'The domain free hypercall (--domain-lifecycle), with any domain, mapped or not.',
    argFormats: { domain: 'num' },
    staticArgs: (c) => (lifecycleOn(c) ? range(c.domains).map((domain) => ({ domain })) : []),
    run: (hyp, a) => hyp.kvm_iommu_free_domain(a.domain as number),
  },
  {
    name: 'kvm_iommu_attach_dev',
    actor: 'host',
    hosts: UNTRUSTED,
    description: 'The attach hypercall (--domain-lifecycle), with any domain and endpoint.',
    argFormats: { domain: 'num', endpoint: 'num' },
    staticArgs: (c) => range(c.domains).flatMap((domain) => range(endpointCount(c)).map((endpoint) => ({ domain, endpoint }))),
    run: (hyp, a) => hyp.kvm_iommu_attach_dev(a.domain as number, a.endpoint as number),
  },
  {
    name: 'kvm_iommu_detach_dev',
    actor: 'host',
    hosts: UNTRUSTED,
    description: 'The detach hypercall (--domain-lifecycle), with any domain and endpoint.',
    argFormats: { domain: 'num', endpoint: 'num' },
    staticArgs: (c) => range(c.domains).flatMap((domain) => range(endpointCount(c)).map((endpoint) => ({ domain, endpoint }))),
    run: (hyp, a) => hyp.kvm_iommu_detach_dev(a.domain as number, a.endpoint as number),
  },
  {
    name: 'kvm_iommu_map_pages',
    actor: 'host',
    hosts: UNTRUSTED,
    description: 'The IOMMU map hypercall of RFC v1: share_dma the physical range, then map it in the domain io-pgtable.',
    argFormats: { domain: 'num', iova: 'iova', paddr: 'phys', pgsize: 'size', pgcount: 'num', prot: 'prot' },
    staticArgs(c) {
      const out: Args[] = [];
      const n = totalPages(c);
      const pgsizes = [0, PAGE_SIZE, IOPT_BLOCK_SIZE, PAGE_SIZE + IOPT_BLOCK_SIZE];
      const prots = [IOMMU_READ | IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO, 0];
      for (let domain = 0; domain < c.domains; domain++)
        for (let slot = 0; slot < c.iovas; slot++)
          for (let pfn = 0; pfn < n; pfn++)
            for (const pgsize of pgsizes)
              for (let pgcount = 1; pgcount <= (pgsize === 0 ? 1 : c.maxRange); pgcount++) {
                if (pfn * PAGE_SIZE + pgsize * pgcount > n * PAGE_SIZE) continue;
                if (pgsize * pgcount > c.maxRange * PAGE_SIZE && pgsize !== PAGE_SIZE + IOPT_BLOCK_SIZE) continue;
                for (const prot of prots) out.push({ domain, iova: slot * PAGE_SIZE, paddr: pfn, pgsize, pgcount, prot });
              }
      return out;
    },
    run: (hyp, a) =>
      hyp.kvm_iommu_map_pages((a.domain as number), (a.iova as number), phys(hyp, (a.paddr as number)), (a.pgsize as number), (a.pgcount as number), (a.prot as number)),
  },
  {
    name: 'kvm_iommu_unmap_pages',
    actor: 'host',
    hosts: UNTRUSTED,
    description: 'The IOMMU unmap hypercall of RFC v1: one pgsize unit at a time, iova_to_phys, unmap, unshare_dma(paddr, pgsize).',
    argFormats: { domain: 'num', iova: 'iova', pgsize: 'size', pgcount: 'num' },
    staticArgs(c) {
      const out: Args[] = [];
      const pgsizes = [0, PAGE_SIZE, IOPT_BLOCK_SIZE, PAGE_SIZE + IOPT_BLOCK_SIZE];
      for (let domain = 0; domain < c.domains; domain++)
        for (let slot = 0; slot < c.iovas; slot++)
          for (const pgsize of pgsizes)
            for (let pgcount = 1; pgcount <= (pgsize === 0 ? 1 : c.maxRange); pgcount++) {
              if (pgsize * pgcount > c.maxRange * PAGE_SIZE && pgsize !== PAGE_SIZE + IOPT_BLOCK_SIZE) continue;
              out.push({ domain, iova: slot * PAGE_SIZE, pgsize, pgcount });
            }
      return out;
    },
    run: (hyp, a) => hyp.kvm_iommu_unmap_pages((a.domain as number), (a.iova as number), (a.pgsize as number), (a.pgcount as number)),
  },
  {
    name: '__pkvm_host_share_dma',
    actor: 'host',
    hosts: ['adversarial'],
    description: 'A direct call of the seed function, as if the host could reach it: mark a physical range as used for DMA.',
    argFormats: { phys: 'phys', size: 'size', is_ram: 'bool' },
    staticArgs(c) {
      const out: Args[] = [];
      const n = totalPages(c);
      for (let pfn = 0; pfn < n; pfn++)
        for (const size of dmaSizes(c))
          if (pfn * PAGE_SIZE + size <= n * PAGE_SIZE) for (const is_ram of [true, false]) out.push({ phys: pfn, size, is_ram });
      return out;
    },
    run: (hyp, a) => hyp.__pkvm_host_share_dma(phys(hyp, (a.phys as number)), (a.size as number), a.is_ram as boolean),
    ghost(hyp, a, ret) {
      if (ret !== 0) return;
      for (let i = 0; i < Math.floor((a.size as number) / PAGE_SIZE); i++) {
        const pfn = (a.phys as number) + i;
        if (pfn < hyp.config.ramPages) hyp.mem.setGhost('dmaRefs', pfn, hyp.mem.ghost('dmaRefs', pfn) + 1);
      }
    },
  },
  {
    name: '__pkvm_host_unshare_dma',
    actor: 'host',
    hosts: ['adversarial'],
    description: 'A direct call of the seed function: drop the DMA reference of each page of a physical range.',
    argFormats: { phys: 'phys', size: 'size' },
    staticArgs(c) {
      const out: Args[] = [];
      const n = totalPages(c);
      for (let pfn = 0; pfn < n; pfn++) for (const size of dmaSizes(c)) if (pfn * PAGE_SIZE + size <= n * PAGE_SIZE) out.push({ phys: pfn, size });
      return out;
    },
    run: (hyp, a) => hyp.__pkvm_host_unshare_dma(phys(hyp, (a.phys as number)), (a.size as number)),
    ghost(hyp, a, ret) {
      if (ret !== 0) return;
      for (let i = 0; i < Math.floor((a.size as number) / PAGE_SIZE); i++) {
        const pfn = (a.phys as number) + i;
        if (pfn < hyp.config.ramPages && hyp.mem.ghost('dmaRefs', pfn) > 0) hyp.mem.setGhost('dmaRefs', pfn, hyp.mem.ghost('dmaRefs', pfn) - 1);
      }
    },
  },
  // ---------------------------------------------------------------- guests
  {
    name: '__pkvm_guest_share_host',
    actor: 'guest',
    description: 'A guest shares one of its pages with the host (guest SHARED_OWNED, host SHARED_BORROWED).',
    argFormats: { vm: 'num', ipa: 'num' },
    staticArgs: (c) => range(c.guests).flatMap((vm) => range(c.guestIpas).map((ipa) => ({ vm, ipa }))),
    enabled: (s, a) => !s.vmDying((a.vm as number)),
    run: (hyp, a) => hyp.__pkvm_guest_share_host((a.vm as number), (a.ipa as number) * PAGE_SIZE),
  },
  {
    name: '__pkvm_guest_unshare_host',
    actor: 'guest',
    description: 'A guest takes back a page it shared with the host.',
    argFormats: { vm: 'num', ipa: 'num' },
    staticArgs: (c) => range(c.guests).flatMap((vm) => range(c.guestIpas).map((ipa) => ({ vm, ipa }))),
    enabled: (s, a) => !s.vmDying((a.vm as number)),
    run: (hyp, a) => hyp.__pkvm_guest_unshare_host((a.vm as number), (a.ipa as number) * PAGE_SIZE),
  },
  {
    name: 'guest_access',
    actor: 'guest',
    description: 'A guest touches an IPA: it reaches the page its stage-2 maps, or exits with a fault.',
    argFormats: { vm: 'num', ipa: 'num' },
    staticArgs: (c) => range(c.guests).flatMap((vm) => range(c.guestIpas).map((ipa) => ({ vm, ipa }))),
    enabled: (s, a) => !s.vmDying((a.vm as number)),
    run(hyp, a) {
      const pte = hyp.guest_s2_leaf((a.vm as number), (a.ipa as number) * PAGE_SIZE);
      if (!pte) return -14; // -EFAULT: stage-2 fault, exit to the host
      hyp.recordAccess(`guest ${(a.vm as number)}`, pte.pfn);
      return 0;
    },
  },
  // ---------------------------------------------------------------- the hypervisor's own activity
  {
    name: 'hyp_unpin_shared_mem',
    actor: 'hyp',
    description: 'The hypervisor drops a pin it took (vCPU put, VM teardown).',
    argFormats: { pfn: 'num' },
    staticArgs: (c) => (c.maxPins > 0 ? range(c.ramPages).map((pfn) => ({ pfn })) : []),
    enabled: (s, a) => s.ghost('pins', (a.pfn as number)) > 0,
    locks: () => ['host_mmu.lock', 'pkvm_pgd_lock'],
    run(hyp, a) {
      hyp.hyp_unpin_shared_mem((a.pfn as number));
      return 0;
    },
    ghost(hyp, a) {
      hyp.mem.setGhost('pins', (a.pfn as number), hyp.mem.ghost('pins', (a.pfn as number)) - 1);
    },
  },
  {
    name: 'hyp_alloc_page',
    actor: 'hyp',
    description: 'The hyp page allocator hands out a free page it owns: hyp_set_page_refcounted() (refcount 0 -> 1).',
    argFormats: { pfn: 'num' },
    staticArgs: (c) => range(c.ramPages).map((pfn) => ({ pfn })),
    enabled: (s, a, c) => s.hypPte((a.pfn as number)) === PKVM_PAGE_OWNED && s.ghost('pool', (a.pfn as number)) === 0 && !isTablePage(s, c, a.pfn as number),
    locks: () => ['hyp_pool.lock'],
    run(hyp, a) {
      hyp.hyp_set_page_refcounted((a.pfn as number));
      return 0;
    },
    ghost(hyp, a) {
      hyp.mem.setGhost('pool', (a.pfn as number), 1);
    },
  },
  {
    name: 'hyp_put_page',
    actor: 'hyp',
    description: 'The hypervisor frees a page it allocated: hyp_put_page() drops the allocator reference.',
    argFormats: { pfn: 'num' },
    staticArgs: (c) => range(c.ramPages).map((pfn) => ({ pfn })),
    enabled: (s, a) => s.ghost('pool', (a.pfn as number)) > 0,
    locks: () => ['hyp_pool.lock'],
    run(hyp, a) {
      hyp.hyp_page_ref_dec_and_test((a.pfn as number));
      return 0;
    },
    ghost(hyp, a) {
      hyp.mem.setGhost('pool', (a.pfn as number), hyp.mem.ghost('pool', (a.pfn as number)) - 1);
    },
  },
  {
    name: '__pkvm_hyp_donate_host',
    actor: 'hyp',
    description: 'The hypervisor gives a free page it owns back to the host (memcache drain, teardown).',
    argFormats: { pfn: 'num' },
    staticArgs: (c) => range(c.ramPages).map((pfn) => ({ pfn })),
    enabled: (s, a, c) => s.hypPte((a.pfn as number)) === PKVM_PAGE_OWNED && s.ghost('pool', (a.pfn as number)) === 0 && !isTablePage(s, c, a.pfn as number),
    locks: () => ['host_mmu.lock', 'pkvm_pgd_lock'],
    run: (hyp, a) => hyp.__pkvm_hyp_donate_host((a.pfn as number), 1),
  },
  // ---------------------------------------------------------------- hardware and environment
  {
    name: 'device_dma',
    actor: 'device',
    description: 'A device attached to a domain (with --domain-lifecycle: an endpoint whose STE points to it) performs DMA at an IOVA, through the SMMU: its IOTLB when it caches the IOVA, else the io-pgtable.',
    argFormats: { domain: 'num', iova: 'iova' },
    staticArgs: (c) => range(c.domains).flatMap((domain) => range(c.iovas).map((slot) => ({ domain, iova: slot * PAGE_SIZE }))),
    enabled: (s, a) => domainAttached(s, a.domain as number) && (s.iotlb((a.domain as number), (a.iova as number) / PAGE_SIZE) ?? deviceTranslate(s, (a.domain as number), (a.iova as number) / PAGE_SIZE)) !== null,
    run(hyp, a) {
      const slot = (a.iova as number) / PAGE_SIZE;
      const pfn = hyp.mem.iotlb((a.domain as number), slot) ?? deviceTranslate(hyp.mem, (a.domain as number), slot);
      if (pfn === null) return -14;
      hyp.recordAccess(`device in domain ${(a.domain as number)}`, pfn);
      return 0;
    },
  },
  {
    name: 'smmu_iotlb_fill',
    actor: 'device',
    description: "The SMMU walks a domain's io-pgtable for an IOVA and caches the translation in its IOTLB, until an invalidation drops it.",
    argFormats: { domain: 'num', iova: 'iova' },
    staticArgs: (c) => (c.iotlb ? range(c.domains).flatMap((domain) => range(c.iovas).map((slot) => ({ domain, iova: slot * PAGE_SIZE }))) : []),
    enabled(s, a) {
      if (!domainAttached(s, a.domain as number)) return false;
      const pfn = deviceTranslate(s, (a.domain as number), (a.iova as number) / PAGE_SIZE);
      return pfn !== null && s.iotlb((a.domain as number), (a.iova as number) / PAGE_SIZE) !== pfn;
    },
    run(hyp, a) {
      const slot = (a.iova as number) / PAGE_SIZE;
      hyp.mem.setIotlb((a.domain as number), slot, deviceTranslate(hyp.mem, (a.domain as number), slot));
      return 0;
    },
  },
  {
    name: 'host_stage2_unmap_dev_all',
    actor: 'environment',
    description: 'Memory pressure in the host stage-2 pool: host_stage2_try() unmaps every non-memory range and retries.',
    argFormats: {},
    staticArgs: (c) => (c.mmioPages > 0 ? [{}] : []),
    run: (hyp) => hyp.host_stage2_memory_pressure(),
  },
];

function dmaSizes(c: PkvmConfig): number[] {
  return [0, PAGE_SIZE / 2, ...range(c.maxRange).map((i) => (i + 1) * PAGE_SIZE)];
}

/** __iommu_unmap(): iommu_pgsize() chunks, one kvm_iommu_unmap_pages() hypercall each. */
function unmapRange(hyp: Hyp, domain: number, iova: number, size: number): number {
  let unmapped = 0;
  let ret = 0;
  while (unmapped < size) {
    const { pgsize, count } = iommu_pgsize(iova, iova, size - unmapped);
    ret = hyp.kvm_iommu_unmap_pages(domain, iova, pgsize, count);
    const i0 = iova;
    hyp.recordSubcall(() => `kvm_iommu_unmap_pages(domain=${domain}, iova=0x${i0.toString(16)}, pgsize=0x${pgsize.toString(16)}, pgcount=${count})`, ret);
    if (ret || hyp.fatal) break;
    iova += pgsize * count;
    unmapped += pgsize * count;
  }
  return ret;
}

export const OPERATIONS_BY_NAME: ReadonlyMap<string, OperationSpec> = new Map([...OPERATIONS, ...POOL_OPERATIONS].map((o) => [o.name, o]));

/** Operations performed in a configuration (host operations filtered by the host behaviour; the memcache's with --memcache). */
export function operationsFor(config: PkvmConfig): OperationSpec[] {
  return [...OPERATIONS, ...(config.memcache ? POOL_OPERATIONS : [])].filter((o) => o.actor !== 'host' || (o.hosts ?? ALL).includes(config.host));
}

/** A page the SMMU code uses as a table page (--memcache): not the hyp allocator's to hand out or give back. */
function isTablePage(s: StateReader, config: PkvmConfig, pfn: number): boolean {
  return config.memcache > 0 && s.ext(IOMMU_PAGES, pfn) === 1;
}

export function formatArg(fmt: ArgFormat, v: ArgValue, hyp?: { hyp_pfn_to_phys(p: number): number }): string {
  if (typeof v === 'boolean') return String(v);
  switch (fmt) {
    case 'phys':
      return `0x${(hyp ? hyp.hyp_pfn_to_phys(v) : v).toString(16)}`;
    case 'iova':
    case 'size':
      return `0x${v.toString(16)}`;
    case 'prot':
      return iommuProtName(v);
    default:
      return String(v);
  }
}

export { iovaSpace };
