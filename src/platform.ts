/** Whether this runs in Node (else a browser or a worker): Node-only modules are imported only then. */
export function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}
