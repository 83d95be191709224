// `import text from './x.wgsl'` gives the file's text (build/wgsl-plugin.mjs).
declare module '*.wgsl' {
  const text: string;
  export default text;
}
