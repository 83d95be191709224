/**
 * Every WGSL file of `shaders/`, embedded as text at build time by build/wgsl-plugin.mjs (a new
 * file under shaders/ is picked up with no change here), and the layouts of their entry points,
 * reflected in the same build for every variant the files declare.
 *
 * Conventions shared by the files:
 * - bindings in group 0 only; at most one uniform block, a struct of u32/i32/f32 scalars;
 * - `@workgroup_size` written as three literals;
 * - 1-D kernels take their linear workgroup index as `wid.x + wid.y * nwg.x` (the host folds
 *   counts above the per-dimension limit into y) and return when past the end;
 * - bounds checks combine bools with `&`/`|` or `select()`, never `&&`/`||` chains, which
 *   SwiftShader's compiler turns into control flow (one such kernel took minutes to compile).
 */
import { files, reflection } from 'virtual:netslim-shaders';

/** A buffer binding of an entry point. */
export interface BindingInfo {
  name: string;
  binding: number;
  kind: 'uniform' | 'storage' | 'read-only-storage';
}

/** A member of an entry point's uniform struct. */
export interface UniformMember {
  name: string;
  offset: number;
  type: 'u32' | 'i32' | 'f32';
}

/**
 * What the build reflected of one entry point: its uniform block, and its bindings for each
 * combination of its file's switches (`layouts[layoutOf[bits]]`, bit k on when the k-th declared
 * switch is).
 */
export interface EntryReflection {
  uniform: { name: string; size: number; members: [name: string, offset: number, type: UniformMember['type']][] } | null;
  layouts: [name: string, binding: number, kind: BindingInfo['kind']][][];
  layoutOf: number[];
}

export const SHADERS: Readonly<Record<string, string>> = files;
export const REFLECTION: Readonly<Record<string, { entries: Record<string, EntryReflection> }>> = reflection as Record<string, { entries: Record<string, EntryReflection> }>;
