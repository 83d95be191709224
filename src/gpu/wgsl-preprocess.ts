/**
 * The WGSL preprocessor: a file declares the defines it takes and expands to one WGSL module per
 * combination of their values. Directives are lines whose first non-blank character is `#` (never
 * valid WGSL, so nothing in a module can be mistaken for one):
 *
 * - `#define NAME: bool` — a switch, `false` unless a spec says otherwise;
 * - `#define NAME: 4 | 8 | 16` (optionally `= 16`) — a number from a fixed set, substituted
 *   for `{{NAME}}` in the text; without `= value` every spec must give it;
 * - `#include "file.wgsl"` — the text of another file, expanded with the same defines (its own
 *   `#define` lines count as the includer's);
 * - `#if EXPR`, `#elif EXPR`, `#else`, `#endif` — keep lines where EXPR holds. EXPR combines
 *   defines and integers with `!`, `&&`, `||`, `==`, `!=`, `<`, `<=`, `>`, `>=` and parentheses.
 *
 * The same code runs in the build (build/wgsl-plugin.mjs reflects every variant a file declares,
 * so bind group and uniform layouts are known before anything runs) and at run time (kernelSource
 * expands the text of the spec's variant). A file that declares no defines (such as a shader
 * registered by a user) has its `{{NAME}}` tokens replaced by whatever values the spec gives.
 */

/** A value of a define: a switch or a number. */
export type DefineValue = number | boolean;

/** One `#define` of a shader file. */
export interface DefineDecl {
  name: string;
  /** The values it may take (`[false, true]` for a switch). */
  values: DefineValue[];
  /** What it is when a spec does not say (`false` for a switch). */
  default?: DefineValue;
}

/** Finds the text of a file named by `#include` (or the top file). */
export type ShaderLookup = (file: string) => string | undefined;

const DIRECTIVE = /^\s*#(\w+)(?:\s+(.*?))?\s*$/;

function fail(file: string, line: number, msg: string): never {
  throw new Error(`${file}:${line}: ${msg}`);
}

function textOf(file: string, lookup: ShaderLookup, from?: string): string {
  const text = lookup(file);
  if (text === undefined) throw new Error(from ? `${from}: #include of unknown shader file ${file}` : `unknown shader file ${file}`);
  return text;
}

function includeName(file: string, line: number, arg: string | undefined): string {
  const m = /^"([\w.-]+)"$/.exec(arg ?? '');
  if (!m) fail(file, line, `#include needs a quoted file name, got ${arg ?? 'nothing'}`);
  return m[1]!;
}

function parseDefine(file: string, line: number, arg: string | undefined): DefineDecl {
  const m = /^(\w+)\s*:\s*([^=]+?)\s*(?:=\s*(\S+))?$/.exec(arg ?? '');
  if (!m) fail(file, line, `#define needs NAME: bool or NAME: 1 | 2 | …, got ${arg ?? 'nothing'}`);
  const [, name, kind, def] = m as unknown as [string, string, string, string | undefined];
  if (kind === 'bool') {
    if (def !== undefined && def !== 'true' && def !== 'false') fail(file, line, `${name}: default ${def} is not true or false`);
    return { name, values: [false, true], default: def === 'true' };
  }
  const values = kind.split('|').map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isInteger(v))) fail(file, line, `${name}: values ${kind} are not integers separated by |`);
  const out: DefineDecl = { name, values };
  if (def !== undefined) {
    const d = Number(def);
    if (!values.includes(d)) fail(file, line, `${name}: default ${def} is not one of ${kind}`);
    out.default = d;
  }
  return out;
}

/**
 * The defines a shader file declares, its includes' among them, in the order they appear.
 *
 * @example
 * ```ts
 * import { shaderDefines } from 'netslim';
 *
 * const files: Record<string, string> = { 'a.wgsl': '#define FAST: bool\n#define TILE: 8 | 16 = 16\n' };
 * console.log(shaderDefines('a.wgsl', (f) => files[f]).map((d) => d.name)); // ['FAST', 'TILE']
 * ```
 */
export function shaderDefines(file: string, lookup: ShaderLookup): DefineDecl[] {
  const out: DefineDecl[] = [];
  const seen = new Set<string>();
  const walk = (name: string, stack: string[]): void => {
    if (stack.includes(name)) throw new Error(`${stack[stack.length - 1]}: #include cycle through ${name}`);
    const lines = textOf(name, lookup, stack[stack.length - 1]).split('\n');
    lines.forEach((l, i) => {
      const m = DIRECTIVE.exec(l);
      if (!m) return;
      if (m[1] === 'include') walk(includeName(name, i + 1, m[2]), [...stack, name]);
      else if (m[1] === 'define') {
        const d = parseDefine(name, i + 1, m[2]);
        if (seen.has(d.name)) fail(name, i + 1, `${d.name} is declared twice`);
        seen.add(d.name);
        out.push(d);
      }
    });
  };
  walk(file, []);
  return out;
}

/**
 * A spec's defines checked against what the file declares, with defaults filled in, in
 * declaration order: exactly what selects the variant (so it is the kernel cache key's part).
 * A file that declares nothing takes the given values as they are.
 */
export function resolveDefines(file: string, decls: readonly DefineDecl[], given: Readonly<Record<string, DefineValue | string>> = {}): Record<string, DefineValue | string> {
  if (decls.length === 0) return { ...given };
  const out: Record<string, DefineValue> = {};
  for (const k of Object.keys(given)) {
    if (!decls.some((d) => d.name === k)) throw new Error(`${file} has no define ${k} (it declares ${decls.map((d) => d.name).join(', ')})`);
  }
  for (const d of decls) {
    const v = given[d.name] ?? d.default;
    if (v === undefined) throw new Error(`${file}: define ${d.name} has no value (one of ${d.values.join(' | ')})`);
    if (!d.values.includes(v as DefineValue)) throw new Error(`${file}: define ${d.name}=${String(v)} is not one of ${d.values.join(' | ')}`);
    out[d.name] = v as DefineValue;
  }
  return out;
}

type Token = { kind: 'num'; v: number } | { kind: 'id'; v: string } | { kind: 'op'; v: string };

function tokenize(expr: string, file: string, line: number): Token[] {
  const re = /\s*(?:(\d+)|([A-Za-z_]\w*)|(&&|\|\||==|!=|<=|>=|[!<>()]))/y;
  const out: Token[] = [];
  let pos = 0;
  while (pos < expr.length) {
    if (/^\s*$/.test(expr.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(expr);
    if (!m) fail(file, line, `cannot read #if expression at "${expr.slice(pos)}"`);
    if (m[1] !== undefined) out.push({ kind: 'num', v: Number(m[1]) });
    else if (m[2] !== undefined) out.push({ kind: 'id', v: m[2] });
    else out.push({ kind: 'op', v: m[3]! });
    pos = re.lastIndex;
  }
  return out;
}

/** Evaluates a `#if` expression: precedence `!` > comparisons > `&&` > `||`. */
function evaluate(expr: string, defs: Readonly<Record<string, DefineValue | string>>, file: string, line: number): boolean {
  const t = tokenize(expr, file, line);
  let i = 0;
  const peek = (): string | undefined => (t[i]?.kind === 'op' ? (t[i]!.v as string) : undefined);
  const primary = (): DefineValue => {
    const tok = t[i++];
    if (!tok) fail(file, line, `#if ${expr}: expression ends early`);
    if (tok.kind === 'num') return tok.v;
    if (tok.kind === 'id') {
      const v = defs[tok.v];
      if (v === undefined || typeof v === 'string') fail(file, line, `#if ${expr}: ${tok.v} is not a declared define`);
      return v;
    }
    if (tok.v === '!') return !truth(primary());
    if (tok.v === '(') {
      const v = or();
      if (t[i++]?.v !== ')') fail(file, line, `#if ${expr}: missing )`);
      return v;
    }
    fail(file, line, `#if ${expr}: unexpected ${tok.v}`);
  };
  const truth = (v: DefineValue): boolean => (typeof v === 'boolean' ? v : v !== 0);
  const cmp = (): DefineValue => {
    const a = primary();
    const op = peek();
    if (op === '==' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=') {
      i++;
      const b = primary();
      const [x, y] = [Number(a), Number(b)];
      return op === '==' ? x === y : op === '!=' ? x !== y : op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
    }
    return a;
  };
  const and = (): DefineValue => {
    let v = cmp();
    while (peek() === '&&') {
      i++;
      const b = cmp();
      v = truth(v) && truth(b);
    }
    return v;
  };
  const or = (): DefineValue => {
    let v = and();
    while (peek() === '||') {
      i++;
      const b = and();
      v = truth(v) || truth(b);
    }
    return v;
  };
  const v = or();
  if (i !== t.length) fail(file, line, `#if ${expr}: unexpected ${String(t[i]!.v)}`);
  return truth(v);
}

/**
 * The WGSL module of one variant: includes inlined, `#if` blocks resolved, `{{NAME}}` replaced.
 * `defines` must be complete (see resolveDefines). Directive lines and the lines an `#if` leaves out
 * become empty lines, so the line numbers of the compiler's messages are those of the file up to
 * its first `#include` (an include adds its own lines).
 *
 * @example
 * ```ts
 * import { expandShader } from 'netslim';
 *
 * const files: Record<string, string> = { 'a.wgsl': '#define FAST: bool\n#if FAST\nconst K = {{N}};\n#endif' };
 * console.log(expandShader('a.wgsl', (f) => files[f], { FAST: true, N: 4 }).trim()); // const K = 4;
 * ```
 */
export function expandShader(file: string, lookup: ShaderLookup, defines: Readonly<Record<string, DefineValue | string>>): string {
  const out: string[] = [];
  const walk = (name: string, stack: string[]): void => {
    if (stack.includes(name)) throw new Error(`${stack[stack.length - 1]}: #include cycle through ${name}`);
    // one frame per open #if: whether its lines are kept, whether a branch was taken, whether #else was seen
    const frames: { keep: boolean; taken: boolean; sawElse: boolean; line: number }[] = [];
    const active = (): boolean => frames.every((f) => f.keep);
    textOf(name, lookup, stack[stack.length - 1]).split('\n').forEach((l, idx) => {
      const line = idx + 1;
      const m = DIRECTIVE.exec(l);
      if (!m) {
        if (active()) {
          out.push(l.replace(/\{\{(\w+)\}\}/g, (_t, n: string) => {
            const v = defines[n];
            if (v === undefined) fail(name, line, `define {{${n}}} has no value`);
            return typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
          }));
        } else {
          out.push('');
        }
        return;
      }
      const [, dir, arg] = m;
      const outer = frames.slice(0, -1).every((f) => f.keep);
      if (dir === 'if') {
        const keep = active() && evaluate(arg ?? '', defines, name, line);
        frames.push({ keep, taken: keep, sawElse: false, line });
      } else if (dir === 'elif' || dir === 'else') {
        const f = frames[frames.length - 1];
        if (!f) fail(name, line, `#${dir} without #if`);
        if (f.sawElse) fail(name, line, `#${dir} after #else`);
        if (dir === 'else') f.sawElse = true;
        const cond = dir === 'else' ? true : evaluate(arg ?? '', defines, name, line);
        f.keep = outer && !f.taken && cond;
        f.taken ||= f.keep;
      } else if (dir === 'endif') {
        if (!frames.pop()) fail(name, line, '#endif without #if');
      } else if (dir === 'include') {
        if (active()) walk(includeName(name, line, arg), [...stack, name]);
      } else if (dir !== 'define') {
        fail(name, line, `unknown directive #${dir}`);
      }
      out.push('');
    });
    if (frames.length) fail(name, frames[frames.length - 1]!.line, '#if without #endif');
  };
  walk(file, []);
  return out.join('\n');
}

/**
 * The `@workgroup_size` of a compute entry point in expanded WGSL, written as up to three integer
 * literals (the build checks this reading against wgsl_reflect for every built-in variant).
 *
 * @example
 * ```ts
 * import { workgroupSizeOf } from 'netslim';
 *
 * console.log(workgroupSizeOf('@compute @workgroup_size(64, 1, 1)\nfn main() {}', 'main')); // [64, 1, 1]
 * ```
 */
export function workgroupSizeOf(code: string, entry: string): [number, number, number] {
  const m = new RegExp(`@workgroup_size\\(([^)]*)\\)(?:\\s|@\\w+(?:\\([^)]*\\))?)*fn\\s+${entry}\\s*\\(`).exec(code);
  if (!m) throw new Error(`no compute entry point ${entry} with a @workgroup_size`);
  const dims = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const n = dims.map((s) => Number(s.replace(/[ui]$/, '')));
  if (n.length < 1 || n.length > 3 || n.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`${entry}: @workgroup_size(${m[1]}) is not up to three integer literals`);
  return [n[0]!, n[1] ?? 1, n[2] ?? 1];
}
