// Every shaders/*.wgsl file's text by file name, and the layouts of their entry points
// (build/wgsl-plugin.mjs; typed in src/shaders.ts). In src/ so that the build's TypeScript program
// (rootDir src) sees it.
declare module 'virtual:netslim-shaders' {
  export const files: Record<string, string>;
  export const reflection: Record<string, unknown>;
}
