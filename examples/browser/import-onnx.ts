/**
 * "Bring your own model": an ONNX file the user drops on the page (or picks) is imported on the
 * page's WebGPU device — the layer table, parameters and FLOPs, its logits on a probe image — then
 * slimmed to a FLOP target with its residual streams pruned (`coupled: 'prune'`) and offered for
 * download as safetensors or ONNX. A file that cannot be imported shows the importer's message
 * here (the rest of the page keeps working).
 *
 * The end-to-end test reads the numbers from `data-*` attributes of #import-summary: `state`
 * (idle, importing, imported, pruning, pruned, error), `layers`, `params`, `flops`, `logits` (of
 * the probe, an image of 0.5 everywhere) and after pruning `paramsAfter`, `flopsAfter`,
 * `flopsReached`, `prunedLogits`.
 */
import { Model, readOnnx, saveModel, exportOnnx, slim, type Context } from 'netslim';

interface Imported {
  name: string;
  model: Model;
  inputSize: [number, number, number];
  pruned: Model | null;
}

let current: Imported | null = null;

function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`import: no #${id} on the page`);
  return e;
}

const count = (n: number) => n.toLocaleString('en');

function setState(state: string, text: string, data: Record<string, string | number> = {}): void {
  const s = $('import-summary');
  s.dataset.state = state;
  for (const [k, v] of Object.entries(data)) s.dataset[k] = String(v);
  s.textContent = text;
}

function buttons(on: { prune: boolean; download: boolean }): void {
  ($('import-prune') as HTMLButtonElement).disabled = !on.prune;
  ($('import-download-safetensors') as HTMLButtonElement).disabled = !on.download;
  ($('import-download-onnx') as HTMLButtonElement).disabled = !on.download;
}

/** The logits of `model` for one probe image of 0.5 everywhere. */
async function probe(ctx: Context, model: Model, size: [number, number, number]): Promise<number[]> {
  const x = ctx.tensor([1, ...size], new Float32Array(size[0] * size[1] * size[2]).fill(0.5), 'f32', 'probe');
  const y = await ctx.readF32(model.forward(x, false));
  x.destroy();
  return Array.from(y);
}

function layerTable(model: Model, size: [number, number, number]): HTMLTableElement {
  const shapes = model.graph.shapes([1, ...size]);
  const table = document.createElement('table');
  table.innerHTML = '<thead><tr><th>layer</th><th>kind</th><th>output</th><th>params</th></tr></thead>';
  const body = document.createElement('tbody');
  for (const n of model.graph.nodes) {
    if (n.id === 0) continue;
    const params = n.layer.state.reduce((a, s) => a + (s.countsAsParameter ? s.shape.reduce((x, y) => x * y, 1) : 0), 0);
    const tr = document.createElement('tr');
    for (const v of [n.layer.name, n.layer.kind, shapes[n.id]!.slice(1).join('×'), params ? count(params) : '']) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
  return table;
}

function release(): void {
  current?.pruned?.destroy();
  current?.model.destroy();
  current = null;
}

async function importFile(ctx: Context, file: File): Promise<void> {
  release();
  buttons({ prune: false, download: false });
  $('import-table').replaceChildren();
  setState('importing', `Importing ${file.name}…`);
  try {
    const read = await readOnnx(new Uint8Array(await file.arrayBuffer()), { fileName: file.name });
    const model = new Model(ctx, read.graph, read.meta);
    model.loadStateDict(read.state, file.name);
    current = { name: file.name.replace(/\.onnx$/i, ''), model, inputSize: read.inputSize, pruned: null };
    const costs = slim.layerCosts(read.graph, read.inputSize);
    const params = costs.reduce((a, c) => a + c.params, 0);
    const flops = costs.reduce((a, c) => a + c.flops, 0);
    const logits = await probe(ctx, model, read.inputSize);
    $('import-table').replaceChildren(layerTable(model, read.inputSize));
    const renamed = read.renamed.length ? ` ${read.renamed.length} parameter name(s) derived: ${read.renamed.map((r) => `${r.onnx} → ${r.name}`).join(', ')}.` : '';
    setState(
      'imported',
      `${file.name}: ${read.graph.layers().length} layers, ${count(params)} parameters, ${(flops / 1e6).toFixed(2)} MFLOPs per ${read.inputSize.join('×')} image ` +
        `(opset ${read.opset}${read.producer ? `, ${read.producer}` : ''}), ${read.meta.numClasses} outputs.${renamed}`,
      { layers: read.graph.layers().length, params, flops, logits: JSON.stringify(logits), name: current.name },
    );
    buttons({ prune: true, download: false });
  } catch (e) {
    release();
    setState('error', e instanceof Error ? e.message : String(e));
  }
}

async function pruneImported(ctx: Context): Promise<void> {
  const c = current;
  if (!c) return;
  const target = Number(($('import-target') as HTMLInputElement).value);
  buttons({ prune: false, download: false });
  setState('pruning', `Pruning ${c.name} to ${Math.round(100 * target)} % of its FLOPs…`);
  try {
    c.pruned?.destroy();
    c.pruned = null;
    const { model, report } = await slim.prune(c.model, { flops: target }, { coupled: 'prune', inputSize: c.inputSize });
    c.pruned = model;
    const logits = await probe(ctx, model, c.inputSize);
    const reached = report.flopsAfter / report.flopsBefore;
    setState(
      'pruned',
      `${c.name} pruned to ${(100 * reached).toFixed(1)} % of its FLOPs (${count(report.flopsBefore)} → ${count(report.flopsAfter)}), ` +
        `${count(report.paramsBefore)} → ${count(report.paramsAfter)} parameters, ${report.prunedChannels} of ${report.totalChannels} channels removed. Fine-tune it (e.g. netslim train --refine) before use.`,
      { paramsAfter: report.paramsAfter, flopsAfter: report.flopsAfter, flopsReached: reached, prunedLogits: JSON.stringify(logits) },
    );
    buttons({ prune: true, download: true });
  } catch (e) {
    setState('error', e instanceof Error ? e.message : String(e));
    buttons({ prune: true, download: false });
  }
}

/** Wires the drop zone, the file picker, Prune and the downloads; `download` saves bytes as a file. */
export function setupOnnxImport(ctx: Context, download: (bytes: Uint8Array, name: string, type: string) => void): void {
  const zone = $('drop-zone');
  const take = (files: FileList | null | undefined) => {
    const f = files?.[0];
    if (f) void importFile(ctx, f);
  };
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer?.files);
  });
  const input = $('onnx-file') as HTMLInputElement;
  input.disabled = false;
  input.addEventListener('change', () => take(input.files));
  $('import-prune').addEventListener('click', () => void pruneImported(ctx));
  $('import-download-safetensors').addEventListener('click', () => {
    if (current?.pruned) void saveModel(current.pruned).then((b) => download(b, `${current!.name}-slim.safetensors`, 'application/octet-stream'));
  });
  $('import-download-onnx').addEventListener('click', () => {
    if (current?.pruned) void exportOnnx(current.pruned).then((b) => download(b, `${current!.name}-slim.onnx`, 'application/octet-stream'));
  });
  setState('idle', 'Drop an ONNX file here (or choose one).');
}
