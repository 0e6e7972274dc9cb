// Headless GL is not installed (Myriad replaces gpu.js's optional 'gl' with this stub to keep
// installs fast). gpu.js sees no WebGL context factory and reports headlessgl as unsupported.
module.exports = undefined;
