// Every shaders/*.wgsl file's text by file name (build/wgsl-plugin.mjs). In src/ so that the
// build's TypeScript program (rootDir src) sees it.
declare module 'virtual:netslim-shaders' {
  const shaders: Record<string, string>;
  export default shaders;
}
