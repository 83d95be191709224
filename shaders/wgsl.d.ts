// Every shaders/*.wgsl file's text by file name (build/wgsl-plugin.mjs).
declare module 'virtual:netslim-shaders' {
  const shaders: Record<string, string>;
  export default shaders;
}
