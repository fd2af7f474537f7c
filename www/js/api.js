// The webmoe package, as built by scripts/build-npm and served at pkg/ beside the page by
// scripts/demo. The address is relative to this module, so the demo works served from any path.
// Imported dynamically so that a missing build is a readable message instead of a blank page.

export const PACKAGE_URL = new URL('../pkg/index.js', import.meta.url).href;

/**
 * The package's module: `{ Engine, WebGPUUnavailableError, … }`.
 * @throws {Error} when the package cannot be fetched or evaluated, saying how to build it.
 */
export async function loadPackage() {
  try {
    return await import(PACKAGE_URL);
  } catch (error) {
    throw new Error(
      `The webmoe package could not be loaded from ${PACKAGE_URL} (${error.message}). ` +
        'Build it with scripts/build-npm, or start the demo with scripts/demo, which builds it.',
    );
  }
}
