// wgsl_reflect's bare import has no named exports under Node ESM (its `main` is CommonJS inside a
// "type": "module" package), so netslim imports the ES module file; its types are the package's.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
