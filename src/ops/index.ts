/** The kernel ops, one module per shader family. Each records into the context's encoder. */
export * from './elementwise.js';
export * from './linear.js';
export * from './channel.js';
export * from './cross_entropy.js';
export * from './sgd.js';
export * from './batchnorm2d.js';
export * from './pool2d.js';
export * from './conv2d.js';
export * from './conv2d_grouped.js';
export * from './reduce.js';
export * from './augment.js';
export * from './slim.js';
