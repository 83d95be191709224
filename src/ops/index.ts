/** The kernel ops, one module per shader family. Each records into the context's encoder. */
export * from './elementwise.js';
