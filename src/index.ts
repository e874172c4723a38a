export * from './gpu/device.js';
export * from './gpu/kernel.js';
