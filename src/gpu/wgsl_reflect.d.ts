// wgsl_reflect's ES module entry ships without its own declaration; its types are those of the package root.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
