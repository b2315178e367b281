/**
 * Diagrams of traces and of small state graphs, as Graphviz DOT or Mermaid text: states are
 * nodes with a short summary (what differs from the initial state), steps are edges labelled by
 * the call and its return; what violates an invariant is drawn in red and says which.
 */
import type { StateGraph } from '../checker/graph.ts';
import type { TraceFile } from './format.ts';

export interface DiagramNode {
  readonly id: string;
  readonly lines: readonly string[];
  readonly initial: boolean;
  /** Invariants the state violates. */
  readonly violations: readonly string[];
  /** A state whose transitions were not followed (the depth bound). */
  readonly frontier: boolean;
}

export interface DiagramEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
  /** Invariants the step violates. */
  readonly violations: readonly string[];
}

export interface Diagram {
  readonly title: string;
  readonly nodes: readonly DiagramNode[];
  readonly edges: readonly DiagramEdge[];
}

export const DIAGRAM_FORMATS = ['dot', 'mermaid'] as const;
export type DiagramFormat = (typeof DIAGRAM_FORMATS)[number];

/** Summary lines a node shows at most. */
const MAX_LINES = 8;

/** A fact of traces/describe.ts, shortened for a node ("page 1 (RAM 0x80001000) / host stage-2" -> "p1 host stage-2"). */
export function shortFact(what: string, value: string | null): string {
  const short = (t: string) =>
    t
      .replace(/page (\d+) \((?:RAM|MMIO) 0x[0-9a-f]+\)/g, 'p$1')
      .replace(/ \/ /g, ' ')
      .replace(/PKVM_PAGE_/g, '')
      .replace(/ \(host owns it, mapped lazily\)/, '');
  return `${short(what)}: ${value === null ? '-' : short(value)}`;
}

/** At most MAX_LINES lines, the rest counted. */
function capped(lines: readonly string[]): string[] {
  return lines.length <= MAX_LINES ? [...lines] : [...lines.slice(0, MAX_LINES - 1), `... and ${lines.length - MAX_LINES + 1} more`];
}

/** A step's edge label: the call, where a CPU's step stopped, the return, the failures. */
function stepLabel(s: TraceFile['steps'][number]): string {
  const where = s.cpu && !s.cpu.finished ? ` -> ${s.cpu.to}` : '';
  const ret = !s.cpu || s.cpu.finished ? ` = ${s.retName}` : '';
  return `${s.call}${where}${ret}${s.failures.map((f) => `; ${f.kind} in ${f.where}`).join('')}`;
}

/** A trace as a diagram: its states in a line; each summarised by what differs from the initial state. */
export function traceDiagram(trace: TraceFile): Diagram {
  const initial = new Map<string, string | null>();
  const now = new Map<string, string | null>();
  const v = trace.violation;
  const last = trace.steps.length;
  const nodes: DiagramNode[] = [{ id: 's0', lines: ['state 0', 'initial state'], initial: true, violations: v?.kind === 'state' && last === 0 ? [v.invariant] : [], frontier: false }];
  /** Concurrent traces: each CPU's call in progress and the locks it holds. */
  const running = new Map<number, string>();
  for (const s of trace.steps) {
    for (const c of s.changes) {
      if (!initial.has(c.what)) initial.set(c.what, c.before);
      now.set(c.what, c.after);
    }
    if (s.cpu) {
      if (s.cpu.finished) running.delete(s.cpu.cpu);
      else running.set(s.cpu.cpu, `cpu ${s.cpu.cpu}: in ${s.cpu.op ?? 'a call'}, holds ${s.cpu.holds.length ? s.cpu.holds.join(', ') : 'no lock'}`);
    }
    const facts = [...now].filter(([k, x]) => x !== initial.get(k)).map(([k, x]) => shortFact(k, x));
    facts.push(...[...running.keys()].sort().map((c) => running.get(c)!));
    const violated = v?.kind === 'state' && s.step === last ? [v.invariant] : [];
    nodes.push({ id: `s${s.step}`, lines: [`state ${s.step}`, ...capped(facts.length ? facts : ['as initially'])], initial: false, violations: violated, frontier: false });
  }
  const edges = trace.steps.map((s) => ({ from: `s${s.step - 1}`, to: `s${s.step}`, label: stepLabel(s), violations: v?.kind === 'step' && s.step === last ? [v.invariant] : [] }));
  return { title: v ? `${trace.variant}: ${v.invariant} violated after ${last} step(s)` : `${trace.variant}: trace of ${last} step(s)`, nodes, edges };
}

/** A state graph as a diagram, its states and transitions labelled by the caller. */
export function graphDiagram<S, A, O>(title: string, g: StateGraph<S, A, O>, label: { state(s: S, initial: S): string[]; step(a: A, o: O): string }): Diagram {
  const first = g.nodes[0]?.state;
  return {
    title,
    nodes: g.nodes.map((n) => ({
      id: `s${n.id}`,
      lines: [`state ${n.id} (depth ${n.depth})`, ...capped(n.initial ? ['initial state'] : label.state(n.state, first))],
      initial: n.initial,
      violations: [...new Set(n.violations.map((x) => x.property))],
      frontier: !n.expanded,
    })),
    edges: g.edges.map((e) => ({ from: `s${e.from}`, to: `s${e.to}`, label: label.step(e.action, e.outcome), violations: [...new Set(e.violations.map((x) => x.property))] })),
  };
}

const dotString = (t: string) => `"${t.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const violates = (vs: readonly string[]) => (vs.length ? [`VIOLATES ${vs.join(', ')}`] : []);

export function toDot(d: Diagram): string {
  const out = [`digraph ${dotString(d.title)} {`, `  label=${dotString(d.title)}; labelloc=t;`, '  node [shape=box, fontname="monospace", fontsize=10];', '  edge [fontname="monospace", fontsize=9];'];
  const red = 'color=red, fontcolor=red, penwidth=2';
  for (const n of d.nodes) {
    const lines = [...n.lines, ...violates(n.violations)];
    // \l ends a left-justified line (the escape is DOT's, so it is not escaped again)
    const label = `"${lines.map((l) => dotString(l).slice(1, -1)).join('\\l')}\\l"`;
    const attrs = [`label=${label}`, ...(n.initial ? ['peripheries=2'] : []), ...(n.frontier ? ['style=dashed'] : []), ...(n.violations.length ? [red] : [])];
    out.push(`  ${n.id} [${attrs.join(', ')}];`);
  }
  for (const e of d.edges) out.push(`  ${e.from} -> ${e.to} [label=${dotString([e.label, ...violates(e.violations)].join(' '))}${e.violations.length ? `, ${red}` : ''}];`);
  out.push('}');
  return out.join('\n');
}

/** Mermaid text in a quoted label: its entity codes for what would end or break the label. */
const mermaidText = (t: string) => t.replace(/#/g, '#35;').replace(/"/g, '#quot;').replace(/\|/g, '#124;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

export function toMermaid(d: Diagram): string {
  // (the title is YAML: a JSON string is a YAML string)
  const out = ['---', `title: ${JSON.stringify(d.title)}`, '---', 'flowchart TD'];
  for (const n of d.nodes) out.push(`  ${n.id}["${[...n.lines, ...violates(n.violations)].map(mermaidText).join('<br/>')}"]`);
  d.edges.forEach((e) => out.push(`  ${e.from} -->|"${mermaidText([e.label, ...violates(e.violations)].join(' '))}"| ${e.to}`));
  out.push('  classDef initial stroke-width:3px;', '  classDef frontier stroke-dasharray:5 5;', '  classDef violation stroke:#d00,stroke-width:3px,color:#d00;');
  for (const [cls, ids] of [
    ['initial', d.nodes.filter((n) => n.initial)],
    ['frontier', d.nodes.filter((n) => n.frontier)],
    ['violation', d.nodes.filter((n) => n.violations.length)],
  ] as const)
    if (ids.length) out.push(`  class ${ids.map((n) => n.id).join(',')} ${cls};`);
  const red = d.edges.flatMap((e, i) => (e.violations.length ? [i] : []));
  if (red.length) out.push(`  linkStyle ${red.join(',')} stroke:#d00,stroke-width:3px,color:#d00;`);
  return out.join('\n');
}

export function renderDiagram(d: Diagram, format: DiagramFormat): string {
  return format === 'dot' ? toDot(d) : toMermaid(d);
}
