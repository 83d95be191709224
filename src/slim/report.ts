/**
 * Presenting a prune report: a plain-text table for terminals and an SVG (γ histogram with the
 * threshold, channels kept per BatchNorm) drawn with Observable Plot. The SVG needs a DOM
 * `document`: the browser's by default; in Node pass one (e.g. linkedom's `parseHTML`). The chart
 * functions are async: they load Plot (charts.ts) on first use, so a page that trains and prunes
 * without drawing never downloads it.
 */
import { BatchNorm2d } from '../nn/layers.js';
import type { Model } from '../nn/model.js';
import type { PruneReport } from './prune.js';

/** The γ of one BatchNorm, read back from the GPU. */
export interface LayerGammas {
  name: string;
  gamma: Float32Array;
}

/**
 * γ of every BatchNorm in module order (a read-back: for reports and plots, not for the pass).
 *
 * @example
 * ```ts
 * import { init, models, slim } from 'netslim/node';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { cfg: [8, 'M', 16] });
 * for (const { name, gamma } of await slim.batchNormGammas(model)) console.log(name, gamma.length, gamma[0]); // feature.1 8 0.5 …
 * ctx.destroy();
 * ```
 */
export async function batchNormGammas(model: Model): Promise<LayerGammas[]> {
  const out: LayerGammas[] = [];
  for (const l of model.graph.layers()) {
    if (l instanceof BatchNorm2d) out.push({ name: l.name, gamma: await model.ctx.readF32(l.slot('weight').value!) });
  }
  return out;
}

const count = (n: number): string => n.toLocaleString('en');
const flops = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : String(n));
const change = (a: number, b: number, f: (n: number) => string): string => (a === b ? f(a) : `${f(a)} → ${f(b)}`);
const pct = (a: number, b: number): string => (a ? `−${(100 * (1 - b / a)).toFixed(1)} %` : '');

/**
 * The report as an aligned text table: one row per layer with state (channels for BatchNorms,
 * parameters, FLOPs, the safeguard that acted), then the totals and the threshold.
 *
 * @example
 * ```ts
 * import { init, models, slim } from 'netslim/node';
 *
 * const ctx = await init();
 * const { report } = await slim.prune(models.vgg(ctx, { depth: 11 }), 0.3);
 * console.log(slim.formatPruneTable(report)); // one row per layer, then the totals and the threshold
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export function formatPruneTable(report: PruneReport): string {
  const bn = new Map(report.layers.map((l) => [l.name, l]));
  const rows: string[][] = [['layer', 'kind', 'channels', 'params', 'FLOPs', 'note']];
  for (const c of report.layerCosts) {
    const l = c.kind === 'BatchNorm2d' ? bn.get(c.name) : undefined;
    const channels = l ? change(l.before, l.after, String) : '';
    const note = [l?.selected ? 'kept wide, selected' : '', l?.safeguard ?? ''].filter(Boolean).join('; ');
    rows.push([c.name, c.kind, channels, change(c.paramsBefore, c.paramsAfter, count), c.flopsBefore || c.flopsAfter ? change(c.flopsBefore, c.flopsAfter, flops) : '', note]);
  }
  const kept = report.totalChannels - report.prunedChannels;
  rows.push([
    'total',
    '',
    `${report.totalChannels} → ${kept}`,
    `${count(report.paramsBefore)} → ${count(report.paramsAfter)} (${pct(report.paramsBefore, report.paramsAfter)})`,
    `${flops(report.flopsBefore)} → ${flops(report.flopsAfter)} (${pct(report.flopsBefore, report.flopsAfter)})`,
    '',
  ]);
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  const line = (r: string[]) => r.map((v, j) => (j >= 2 && j <= 4 ? v.padStart(widths[j]!) : v.padEnd(widths[j]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [
    line(rows[0]!),
    rule,
    ...rows.slice(1, -1).map(line),
    rule,
    line(rows[rows.length - 1]!),
    `threshold ${report.costExponent ? `|γ|/c^${report.costExponent}` : '|γ|'} > ${report.threshold.toPrecision(4)} (at ${(100 * report.percent).toFixed(1)} % of the ranked scores)` +
      ` · ${report.prunedChannels} of ${report.totalChannels} channels removed (${report.mode})${report.coupled === 'prune' ? ' (coupled groups ranked as one)' : ''}` +
      (report.target ? ` · target reached: ${(100 * report.target.reached.flops).toFixed(1)} % of the FLOPs, ${(100 * report.target.reached.params).toFixed(1)} % of the parameters left` : ''),
  ].join('\n');
}

/**
 * A hint for the accuracy a prune leaves before fine-tuning, or null when there is nothing to say:
 * when the unpruned model is well above chance (more than twice 1/classes) and the pruned one is
 * at chance (below 1.5/classes), the pruned channels still carried the signal — the γ were not
 * sparse yet at this threshold. The CLI prints it under the table.
 *
 * @example
 * ```ts
 * import { slim } from 'netslim';
 *
 * console.log(slim.pruneAccuracyNote(0.9047, 0.1, 10, 0.311)); // accuracy fell to chance (10.00 % …
 * console.log(slim.pruneAccuracyNote(0.9047, 0.85, 10, 0.02)); // null
 * ```
 */
export function pruneAccuracyNote(before: number, after: number, classes: number, threshold: number): string | null {
  const chance = 1 / classes;
  if (!(before > 2 * chance && after < 1.5 * chance)) return null;
  return (
    `accuracy fell to chance (${(100 * after).toFixed(2)} %, 1/${classes} = ${(100 * chance).toFixed(2)} %): channels with |γ| ≤ ${threshold.toPrecision(3)} ` +
    'still carried the signal, so the γ were not sparse yet. Fine-tuning (netslim train --refine) usually recovers it; ' +
    'longer sparse training (--sr) or a smaller --percent keeps more before fine-tuning'
  );
}

/** Options of {@link pruneReportSvg}. */
export interface ReportSvgOptions {
  /** The DOM document to draw with (default: `globalThis.document`). */
  document?: Document;
  /** Width in pixels (default 720). */
  width?: number;
  /** A title above the charts. */
  title?: string;
}

/**
 * An SVG (as a string) with the |γ| histogram of every BatchNorm and the global threshold, and
 * the channels each BatchNorm had and keeps. `gammas` is what {@link batchNormGammas} read from
 * the model that was pruned. `options`: `document` to draw with (default `globalThis.document`;
 * in Node pass one, e.g. linkedom's), `width` in pixels (default 720), `title` above the charts.
 * Loads Observable Plot on first use.
 *
 * @example
 * ```ts
 * import { init, models, slim, writeFileAtomic } from 'netslim/node';
 * import { parseHTML } from 'linkedom';
 *
 * const ctx = await init();
 * const model = models.vgg(ctx, { depth: 11 });
 * const gammas = await slim.batchNormGammas(model); // read before pruning
 * const { report } = await slim.prune(model, 0.3);
 * // In a browser the page's document is used; in Node pass one (linkedom is a netslim dependency).
 * const { document } = parseHTML('<!doctype html><html><body></body></html>');
 * const svg = await slim.pruneReportSvg(report, gammas, { document: document as unknown as Document, title: 'VGG-11, 30 %', width: 720 });
 * await writeFileAtomic('prune.svg', new TextEncoder().encode(svg));
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export async function pruneReportSvg(report: PruneReport, gammas: LayerGammas[], options: ReportSvgOptions = {}): Promise<string> {
  return (await import('./charts.js')).drawPruneReportSvg(report, gammas, options);
}

/** Common options of the chart builders below. */
export interface ChartOptions {
  /** The DOM document to draw with (default: `globalThis.document`). */
  document?: Document;
  width?: number;
  title?: string;
  /** Left margin for the layer labels (channel bars; default 140). */
  marginLeft?: number;
}

/**
 * A histogram of |γ| values (Observable Plot, loaded on first use), with the threshold as a red
 * rule when given.
 *
 * @example
 * ```ts
 * import { slim } from 'netslim';
 *
 * const figure = await slim.gammaHistogramPlot([0.01, 0.02, 0.5, 0.7, 0.9], { threshold: 0.3, width: 400 });
 * document.body.append(figure);
 * ```
 */
export async function gammaHistogramPlot(
  values: number[],
  options: ChartOptions & { threshold?: number; bins?: number | number[]; xMax?: number; fill?: string; height?: number } = {},
): Promise<SVGSVGElement | HTMLElement> {
  return (await import('./charts.js')).drawGammaHistogram(values, options);
}

/**
 * Channels per layer before (grey) and kept (blue), one bar pair per layer, labelled
 * `kept/before` (Observable Plot, loaded on first use).
 *
 * @example
 * ```ts
 * import { slim } from 'netslim';
 *
 * const figure = await slim.channelBarsPlot([{ layer: 'feature.1', before: 64, after: 20 }], { width: 400 });
 * document.body.append(figure);
 * ```
 */
export async function channelBarsPlot(bars: { layer: string; before: number; after: number }[], options: ChartOptions = {}): Promise<SVGSVGElement | HTMLElement> {
  return (await import('./charts.js')).drawChannelBars(bars, options);
}
