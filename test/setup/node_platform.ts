// Tests run the sources in Node: install the Node platform (Dawn, local folders, sharp) as the
// package's Node entry does, before any test file runs.
import '../../src/platform_node.js';
