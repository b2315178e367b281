/**
 * --lock-ranks distinct: the lock order of the later trees, where __pkvm_guest_share_hyp_page takes
 * hyp_lock_component() and then guest_lock_component(vm), against the seed's tree, where
 * pkvm_pgd_lock and a VM's lock are never held together. Each difference is shown on a variant
 * that nests the two locks, and the default is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, validateConfig } from '../../model/config.ts';
import { PKVM_ID_GUEST, PKVM_ID_HOST } from '../../model/constants.ts';
import type { Hyp } from '../../model/kernel/hyp.ts';
import type { PkvmMemShare } from '../../model/kernel/mem_protect.ts';
import { defineVariant } from '../../model/variant.ts';
import { RFC_V1_FIXED } from '../../model/variants/index.ts';
import { messageOf, shortest, verdict } from '../variants/util.ts';
import { runCli } from '../run-cli.ts';

const DISTINCT = { lockRanks: 'distinct' } as const;

/** __pkvm_guest_share_host with the hyp lock taken too, before or after the VM's lock. */
function nesting(name: string, hypFirst: boolean) {
  return defineVariant({
    name,
    base: RFC_V1_FIXED,
    description: `__pkvm_guest_share_host takes pkvm_pgd_lock ${hypFirst ? 'before' : 'after'} the VM's lock`,
    replace: {
      __pkvm_guest_share_host(this: Hyp, vm: number, ipa: number): number {
        this.host_lock_component();
        if (hypFirst) this.hyp_lock_component();
        this.guest_lock_component(vm);
        if (!hypFirst) this.hyp_lock_component();
        const share: PkvmMemShare = {
          tx: { nr_pages: 1, initiator: { id: PKVM_ID_GUEST, addr: ipa, vm }, completer: { id: PKVM_ID_HOST } },
          completer_prot: 'PKVM_HOST_MEM_PROT',
        };
        const ret = this.do_share(share);
        if (!hypFirst) this.hyp_unlock_component();
        this.guest_unlock_component(vm);
        if (hypFirst) this.hyp_unlock_component();
        this.host_unlock_component();
        return ret;
      },
    },
  });
}
const HYP_THEN_VM = nesting('hyp-then-vm-lock', true);
const VM_THEN_HYP = nesting('vm-then-hyp-lock', false);

describe('configuration', () => {
  it('shared is the default and leaves the configuration as it was; distinct is recorded', () => {
    expect('lockRanks' in validateConfig(DEFAULT_CONFIG)).toBe(false);
    expect('lockRanks' in validateConfig({ ...DEFAULT_CONFIG, lockRanks: 'shared' as never })).toBe(false);
    expect(validateConfig({ ...DEFAULT_CONFIG, ...DISTINCT }).lockRanks).toBe('distinct');
    expect(() => validateConfig({ ...DEFAULT_CONFIG, lockRanks: 'per-cpu' as never })).toThrow(/--lock-ranks must be shared or distinct/);
  });
});

describe('lock-order under each set of ranks (default bounds, depth 4)', () => {
  it('the hyp lock then a VM lock: against the seed tree\'s order, legal in the later trees\'', () => {
    const shared = verdict(HYP_THEN_VM, {}, 4, ['lock-order']);
    expect(shortest(shared)).toEqual({ 'lock-order': 1 });
    expect(messageOf(shared, 'lock-order')).toMatch(/__pkvm_guest_share_host takes vm\[0\]\.lock while holding pkvm_pgd_lock/);
    const distinct = verdict(HYP_THEN_VM, DISTINCT, 4, ['lock-order']);
    expect(shortest(distinct)).toEqual({});
  });
  it('a VM lock then the hyp lock: against both orders', () => {
    for (const overrides of [{}, DISTINCT]) {
      const r = verdict(VM_THEN_HYP, overrides, 4, ['lock-order']);
      expect(shortest(r)).toEqual({ 'lock-order': 1 });
      expect(messageOf(r, 'lock-order')).toMatch(/takes pkvm_pgd_lock while holding vm\[0\]\.lock/);
    }
  });
  it('two VMs\' locks never nest, in either order', () => {
    const v = defineVariant({
      name: 'two-vm-locks',
      base: RFC_V1_FIXED,
      description: '__pkvm_guest_share_host takes the other VM\'s lock too',
      replace: {
        __pkvm_guest_share_host(this: Hyp, vm: number): number {
          this.guest_lock_component(0);
          this.guest_lock_component(1);
          this.guest_unlock_component(1);
          this.guest_unlock_component(0);
          return vm === 0 ? -1 : -1;
        },
      },
    });
    for (const overrides of [{ guests: 2 }, { guests: 2, ...DISTINCT }]) {
      const r = verdict(v, overrides, 3, ['lock-order']);
      expect(messageOf(r, 'lock-order')).toMatch(/takes vm\[1\]\.lock while holding vm\[0\]\.lock/);
    }
  });
  it('rfc-v1-fixed holds lock-order with either set of ranks', () => {
    for (const overrides of [{}, DISTINCT]) expect(shortest(verdict(RFC_V1_FIXED, overrides, 4, ['lock-order']))).toEqual({});
  });
});

describe('the command line', () => {
  it('--lock-ranks distinct is recorded in the trace header; a bad value is refused with exit 2', async () => {
    const ok = await runCli(['check', '--variant', 'rfc-v1-fixed', '--lock-ranks', 'distinct', '--depth', '2', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).config.lockRanks).toBe('distinct');
    const bad = await runCli(['check', '--lock-ranks', 'nested']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/lock-ranks/);
    expect(bad.err).not.toMatch(/\n\s+at /);
  });
});
