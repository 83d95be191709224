/**
 * Presenting a prune report: a plain-text table for terminals and an SVG (γ histogram with the
 * threshold, channels kept per BatchNorm) drawn with Observable Plot. The SVG needs a DOM
 * `document`: the browser's by default; in Node pass one (e.g. linkedom's `parseHTML`).
 */
import * as Plot from '@observablehq/plot';
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
    `threshold |γ| > ${report.threshold.toPrecision(4)} · ${(100 * report.percent).toFixed(1)} % of ${report.totalChannels} channels pruned (${report.mode})` +
      ` · ${report.prunedChannels} channels removed${report.coupled === 'prune' ? ' (coupled groups ranked as one)' : ''}` +
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
 * const svg = slim.pruneReportSvg(report, gammas, { document: document as unknown as Document, title: 'VGG-11, 30 %', width: 720 });
 * await writeFileAtomic('prune.svg', new TextEncoder().encode(svg));
 * await ctx.sync(); // let queued GPU work finish before destroy()
 * ctx.destroy();
 * ```
 */
export function pruneReportSvg(report: PruneReport, gammas: LayerGammas[], options: ReportSvgOptions = {}): string {
  const document = options.document ?? (globalThis as { document?: Document }).document;
  if (!document) throw new Error('pruneReportSvg: no DOM document; in Node pass { document } (e.g. from linkedom parseHTML)');
  const width = options.width ?? 720;
  const values = gammas.flatMap((g) => Array.from(g.gamma, (v) => Math.abs(v)));
  const histogram = gammaHistogramPlot(values, {
    document,
    width,
    threshold: report.threshold,
    title: `|γ| of ${values.length} BatchNorm channels; red: threshold ${report.threshold.toPrecision(3)}`,
  });
  const channels = channelBarsPlot(
    report.layers.map((l, i) => ({ layer: `${i + 1}. ${l.name}`, before: l.before, after: l.after })),
    { document, width, title: 'channels per BatchNorm: before (grey) and kept (blue)' },
  );
  return stack(document, [histogram, channels], width, options.title);
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
 * A histogram of |γ| values (Observable Plot), with the threshold as a red rule when given.
 *
 * @example
 * ```ts
 * import { slim } from 'netslim';
 *
 * const figure = slim.gammaHistogramPlot([0.01, 0.02, 0.5, 0.7, 0.9], { threshold: 0.3, width: 400 });
 * document.body.append(figure);
 * ```
 */
export function gammaHistogramPlot(values: number[], options: ChartOptions & { threshold?: number; bins?: number | number[]; xMax?: number; fill?: string; height?: number } = {}): SVGSVGElement | HTMLElement {
  return Plot.plot({
    ...(options.document ? { document: options.document } : {}),
    width: options.width ?? 720,
    height: options.height ?? 260,
    marginLeft: 50,
    ...(options.title ? { title: options.title } : {}),
    x: { label: '|γ|', ...(options.xMax !== undefined ? { domain: [0, options.xMax] } : {}) },
    y: { label: 'channels', grid: true },
    marks: [
      Plot.rectY(values, { fill: options.fill ?? 'steelblue', ...Plot.binX({ y: 'count' }, { x: (d: number) => d, thresholds: options.bins ?? 60 }) }),
      ...(options.threshold !== undefined ? [Plot.ruleX([options.threshold], { stroke: 'red', strokeWidth: 2 })] : []),
      Plot.ruleY([0]),
    ],
  });
}

/**
 * Channels per layer before (grey) and kept (blue), one bar pair per layer, labelled `kept/before`.
 *
 * @example
 * ```ts
 * import { slim } from 'netslim';
 *
 * const figure = slim.channelBarsPlot([{ layer: 'feature.1', before: 64, after: 20 }], { width: 400 });
 * document.body.append(figure);
 * ```
 */
export function channelBarsPlot(bars: { layer: string; before: number; after: number }[], options: ChartOptions = {}): SVGSVGElement | HTMLElement {
  return Plot.plot({
    ...(options.document ? { document: options.document } : {}),
    width: options.width ?? 720,
    height: 50 + 18 * bars.length,
    marginLeft: options.marginLeft ?? 140,
    marginRight: 50,
    ...(options.title ? { title: options.title } : {}),
    x: { label: 'channels', grid: true },
    y: { label: null, domain: bars.map((b) => b.layer) },
    marks: [
      Plot.barX(bars, { y: 'layer', x: 'before', fill: '#ddd' }),
      Plot.barX(bars, { y: 'layer', x: 'after', fill: 'steelblue' }),
      Plot.text(bars, { y: 'layer', x: 'before', text: (b: { before: number; after: number }) => `${b.after}/${b.before}`, dx: 4, textAnchor: 'start' }),
      Plot.ruleX([0]),
    ],
  });
}

/** Stacks Plot figures vertically in one standalone SVG document (string). */
export function stack(document: Document, figures: (SVGElement | HTMLElement)[], width: number, title?: string): string {
  const NS = 'http://www.w3.org/2000/svg';
  const root = document.createElementNS(NS, 'svg');
  let y = 0;
  if (title) {
    const t = document.createElementNS(NS, 'text');
    t.setAttribute('x', '8');
    t.setAttribute('y', '20');
    t.setAttribute('font-family', 'system-ui, sans-serif');
    t.setAttribute('font-size', '14');
    t.textContent = title;
    root.appendChild(t);
    y = 30;
  }
  for (const f of figures) {
    // A figure with a title is an HTML <figure> holding the <svg>; keep the svg, draw the title as text.
    const svg = f.tagName.toLowerCase() === 'svg' ? f : f.querySelector('svg');
    const caption = f.tagName.toLowerCase() === 'svg' ? null : f.querySelector('h2, figcaption');
    if (!svg) continue;
    if (caption?.textContent) {
      const t = document.createElementNS(NS, 'text');
      t.setAttribute('x', '8');
      t.setAttribute('y', String(y + 16));
      t.setAttribute('font-family', 'system-ui, sans-serif');
      t.setAttribute('font-size', '12');
      t.textContent = caption.textContent;
      root.appendChild(t);
      y += 24;
    }
    const h = Number(svg.getAttribute('height'));
    svg.setAttribute('y', String(y));
    root.appendChild(svg);
    y += h + 10;
  }
  root.setAttribute('xmlns', NS);
  root.setAttribute('width', String(width));
  root.setAttribute('height', String(y));
  root.setAttribute('viewBox', `0 0 ${width} ${y}`);
  return root.outerHTML;
}
