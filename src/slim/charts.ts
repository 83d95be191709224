/**
 * The charts of a prune report, drawn with Observable Plot: loaded on first use by the async
 * wrappers in report.ts, so an app that never draws a chart never loads Plot or d3.
 */
import * as Plot from '@observablehq/plot';
import type { PruneReport } from './prune.js';
import type { ChartOptions, LayerGammas, ReportSvgOptions } from './report.js';

/** See report.ts pruneReportSvg. */
export function drawPruneReportSvg(report: PruneReport, gammas: LayerGammas[], options: ReportSvgOptions = {}): string {
  const document = options.document ?? (globalThis as { document?: Document }).document;
  if (!document) throw new Error('pruneReportSvg: no DOM document; in Node pass { document } (e.g. from linkedom parseHTML)');
  const width = options.width ?? 720;
  const values = gammas.flatMap((g) => Array.from(g.gamma, (v) => Math.abs(v)));
  const histogram = drawGammaHistogram(values, {
    document,
    width,
    threshold: report.threshold,
    title: `|γ| of ${values.length} BatchNorm channels; red: threshold ${report.threshold.toPrecision(3)}`,
  });
  const channels = drawChannelBars(
    report.layers.map((l, i) => ({ layer: `${i + 1}. ${l.name}`, before: l.before, after: l.after })),
    { document, width, title: 'channels per BatchNorm: before (grey) and kept (blue)' },
  );
  return stack(document, [histogram, channels], width, options.title);
}

/** See report.ts gammaHistogramPlot. */
export function drawGammaHistogram(values: number[], options: ChartOptions & { threshold?: number; bins?: number | number[]; xMax?: number; fill?: string; height?: number } = {}): SVGSVGElement | HTMLElement {
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

/** See report.ts channelBarsPlot. */
export function drawChannelBars(bars: { layer: string; before: number; after: number }[], options: ChartOptions = {}): SVGSVGElement | HTMLElement {
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
