/**
 * Every WGSL file of `shaders/`, embedded as text at build time by build/wgsl-plugin.mjs (a new
 * file under shaders/ is picked up with no change here).
 *
 * Conventions shared by the files:
 * - bindings in group 0 only; at most one uniform block, a struct of u32/i32/f32 scalars;
 * - `@workgroup_size` written as three literals;
 * - 1-D kernels take their linear workgroup index as `wid.x + wid.y * nwg.x` (the host folds
 *   counts above the per-dimension limit into y) and return when past the end;
 * - bounds checks combine bools with `&`/`|` or `select()`, never `&&`/`||` chains, which
 *   SwiftShader's compiler turns into control flow (one such kernel took minutes to compile).
 */
import shaders from 'virtual:netslim-shaders';

export const SHADERS: Readonly<Record<string, string>> = shaders;
