/**
 * The logic of the commands that turn traces and small state graphs into other formats (export,
 * graph): each returns the text and what it holds; output.ts prints it.
 */
import { GraphTooLarge, stateGraph, type StateGraph } from '../checker/graph.ts';
import { retName } from '../model/constants.ts';
import { lockName } from '../model/kernel/base.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { PkvmAction } from '../model/operations.ts';
import type { PkvmState } from '../model/state.ts';
import { PkvmModel, type PkvmOutcome } from '../model/system.ts';
import type { Variant } from '../model/variant.ts';
import { describeConfig } from '../traces/render.ts';
import { diffStates } from '../traces/describe.ts';
import { graphDiagram, renderDiagram, shortFact, traceDiagram, type DiagramFormat } from '../traces/diagram.ts';
import { TraceFormatError, writeTraceFile } from '../traces/format.ts';
import { itfText, traceStates, traceToItf } from '../traces/itf.ts';
import { searchFor } from './engine.ts';
import { UsageError } from './errors.ts';
import { loadTrace, traceModel } from './run.ts';

export const EXPORT_FORMATS = ['itf', 'dot', 'mermaid'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The most states `graph` draws: a picture of more is not readable. */
export const GRAPH_STATE_LIMIT = 500;

export interface TextReport {
  /** The converted text; written to `out` when it is given, else printed. */
  readonly text: string;
  readonly out: string | null;
  /** One line on what it holds. */
  readonly summary: string;
}

/** Writes the text to its file (when it has one). */
function deliver(text: string, out: string | null, summary: string): TextReport {
  if (out) writeTraceFile(out, text.endsWith('\n') ? text : `${text}\n`);
  return { text, out, summary };
}

/** A written trace (native or ITF) in another format: ITF (its states rebuilt on its model), DOT or Mermaid. */
export async function runExport(req: { file: string; to: ExportFormat; out: string | null; variant: Variant | null; resolve: (name: string) => Promise<Variant> }): Promise<TextReport> {
  const { trace, itf } = loadTrace(req.file);
  const summary = `${trace.steps.length} step(s) of ${req.file} as ${req.to}`;
  if (req.to !== 'itf') return deliver(renderDiagram(traceDiagram(trace), req.to), req.out, summary);
  let states = itf?.states;
  if (!states) {
    const { config, variant } = await traceModel(req.file, trace, req.variant, req.resolve);
    try {
      states = traceStates(new PkvmModel(config, variant), trace);
    } catch (e) {
      if (e instanceof TraceFormatError) throw new UsageError(`trace ${req.file}: ${e.message}`);
      throw e;
    }
  }
  return deliver(itfText(traceToItf(trace, states)), req.out, summary);
}

export interface GraphRequest {
  readonly config: PkvmConfig;
  readonly variant: Variant;
  readonly invariants?: readonly string[];
  readonly depth?: number;
  readonly maxStates: number;
  readonly format: DiagramFormat;
  readonly out: string | null;
}

/** The state graph of a small configuration, built by the checker's expansion step on the readable model. */
export function runGraph(req: GraphRequest): TextReport {
  if (req.maxStates > GRAPH_STATE_LIMIT)
    throw new UsageError(`--max-states ${req.maxStates}: graph draws at most ${GRAPH_STATE_LIMIT} states (a picture of more is not readable); use check for larger spaces`);
  const search = searchFor(req.config, req.variant, 'readable', req.invariants);
  const model = search.model as unknown as PkvmModel;
  // CPU steps say which kernel function they stop in
  model.describeCalls();
  let graph: StateGraph<PkvmState, PkvmAction, PkvmOutcome>;
  try {
    graph = stateGraph(model, search.properties as never, { maxStates: req.maxStates, maxDepth: req.depth });
  } catch (e) {
    if (e instanceof GraphTooLarge)
      throw new UsageError(
        `${e.message} within these bounds${req.depth === undefined ? ' (no --depth given)' : ` (depth <= ${req.depth})`}: give a smaller --depth or smaller model bounds, or a larger --max-states (at most ${GRAPH_STATE_LIMIT})`,
      );
    throw e;
  }
  // what the facts of traces leave out: the IOTLBs, the CPUs' calls in progress, the locks held
  const started = new Map(model.allActions().flatMap((a) => (a.entry !== undefined ? [[`${a.cpu}:${a.entry}`, a] as const] : [])));
  const machine = (s: PkvmState) => [
    ...s.iotlb.flatMap((row, d) => row.flatMap((pfn, slot) => (pfn === null ? [] : [`IOTLB ${d} IOVA ${slot}: p${pfn}`]))),
    ...s.cpus.flatMap((c, i) => (c.op === 0 ? [] : [`cpu ${i}: ${model.describeAction({ ...started.get(`${i}:${c.op - 1}`)!, cpu: undefined })}, at point ${c.resume}`])),
    ...s.locks.flatMap((owner, id) => (owner < 0 ? [] : [`${lockName(id)}: cpu ${owner}`])),
  ];
  const title = `${describeConfig({ config: req.config, variant: req.variant.name })}${req.depth !== undefined ? `; depth <= ${req.depth}` : ''}`;
  const diagram = graphDiagram(title, graph, {
    state: (s, initial) => [...diffStates(initial, s, req.config, req.variant).map((c) => shortFact(c.what, c.after)), ...machine(s)],
    step: (a, o) => `${model.describeAction(a)}${o.cpu && !o.cpu.finished ? ` -> ${o.cpu.to}` : ` = ${retName(o.ret)}`}`,
  });
  const bad = graph.nodes.filter((n) => n.violations.length).length;
  const badEdges = graph.edges.filter((e) => e.violations.length).length;
  return deliver(
    renderDiagram(diagram, req.format),
    req.out,
    `${graph.nodes.length} states, ${graph.edges.length} transitions (${bad} violating states, ${badEdges} violating transitions, ${graph.nodes.filter((n) => !n.expanded).length} at the depth bound) as ${req.format}`,
  );
}
