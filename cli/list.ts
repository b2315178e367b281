/** What `list <what>` shows, as data: output.ts prints it as text or as JSON. */
import { BUILTIN_VARIANTS } from '../model/variants/index.ts';
import { DEFAULT_CONFIG, HOST_BEHAVIOURS } from '../model/config.ts';
import { OPERATIONS } from '../model/operations.ts';
import { pieceNames } from '../model/kernel/hyp.ts';
import { HYP_FAILURE_GROUP, HYP_FAILURE_INVARIANTS, pkvmOptionalProperties, pkvmProperties } from '../invariants/index.ts';

export const LISTS = ['variants', 'invariants', 'operations', 'pieces', 'hosts'] as const;
export type ListWhat = (typeof LISTS)[number];

/** One line of a list: a name and what is known of it (the fields depend on the list). */
export interface ListItem {
  readonly name: string;
  readonly description?: string;
  /** variants: the kernel functions the variant replaces. */
  readonly replaces?: readonly string[];
  /** invariants: state, step or group; a group names its members. */
  readonly kind?: string;
  readonly members?: readonly string[];
  /** invariants: checked only when --invariant names it. */
  readonly offByDefault?: boolean;
  /** operations: who calls it, and under which host behaviours only. */
  readonly actor?: string;
  readonly hosts?: readonly string[];
}

export function listItems(what: ListWhat): ListItem[] {
  switch (what) {
    case 'variants':
      return BUILTIN_VARIANTS.map((v) => ({ name: v.name, description: v.description, replaces: v.replaces }));
    case 'invariants':
      return [
        ...pkvmProperties(DEFAULT_CONFIG).map((p) => ({ name: p.name, kind: p.kind, description: p.description })),
        ...pkvmOptionalProperties(DEFAULT_CONFIG).map((p) => ({ name: p.name, kind: p.kind, offByDefault: true, description: p.description })),
        { name: HYP_FAILURE_GROUP, kind: 'group', members: HYP_FAILURE_INVARIANTS },
      ];
    case 'operations':
      return OPERATIONS.map((o) => ({ name: o.name, actor: o.actor, ...(o.hosts ? { hosts: o.hosts } : {}), description: o.description }));
    case 'pieces':
      return pieceNames().map((name) => ({ name }));
    case 'hosts':
      return Object.entries(HOST_BEHAVIOURS).map(([name, description]) => ({ name, description }));
  }
}
