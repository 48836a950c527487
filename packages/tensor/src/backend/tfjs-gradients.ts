import { createRequire, register } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BatchMatMul, GatherV2, Softmax, Sum, getGradient } from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';

/**
 * Resolve/load hooks that let Node import tfjs-core's ES-module sources (`dist/*.js`): they
 * use extensionless relative imports and sit in a package without `"type": "module"`, so
 * plain Node cannot load them. The hooks apply only below `distUrl` and never to the CommonJS
 * bundles (`tf-core*.js`) that `import '@tensorflow/tfjs-core'` loads.
 */
function hookSource(distUrl: string): string {
  return `
const DIST = ${JSON.stringify(distUrl)};
const BUNDLE = /\\/tf-core[^/]*\\.js$/;
export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL;
  if (parent !== undefined && parent.startsWith(DIST) && specifier.startsWith('.') && !/\\.[cm]?js$/.test(specifier)) {
    try {
      return await nextResolve(specifier + '.js', context);
    } catch {
      return nextResolve(specifier + '/index.js', context);
    }
  }
  return nextResolve(specifier, context);
}
export async function load(url, context, nextLoad) {
  if (url.startsWith(DIST) && url.endsWith('.js') && !BUNDLE.test(url)) {
    const result = await nextLoad(url, { ...context, format: 'module' });
    return { ...result, format: 'module' };
  }
  return nextLoad(url, context);
}
`;
}

let registration: Promise<void> | undefined;


/** True when tfjs's gradient registry holds the gradients training needs. */
export function gradientsRegistered(): boolean {
  return [BatchMatMul, GatherV2, Softmax, Sum].every((kernelName) => getGradient(kernelName) !== undefined);
}

async function registerAll(): Promise<void> {
  if (gradientsRegistered()) return;
  // The tfjs-core that this package imports; its CommonJS main lives in dist/.
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core');
  const distUrl = pathToFileURL(dirname(main)).href + '/';
  try {
    register(`data:text/javascript,${encodeURIComponent(hookSource(distUrl))}`);
    await import(`${distUrl}register_all_gradients.js`);
  } catch (cause) {
    throw new Llm2ClipError('E_BACKEND', 'registering the tfjs gradients (tfjs-core dist/register_all_gradients.js) failed', {
      path: `${distUrl}register_all_gradients.js`,
      cause,
    });
  }
  if (!gradientsRegistered()) {
    throw new Llm2ClipError('E_BACKEND', 'tfjs gradients still missing after loading register_all_gradients.js (two copies of tfjs-core?)', {
      path: main,
    });
  }
}

/**
 * Registers tfjs's gradient functions (`BatchMatMul`, `GatherV2`, `Softmax`, …) once per
 * process. `@tensorflow/tfjs-core`'s Node bundle registers none — the umbrella
 * `@tensorflow/tfjs` package normally does — so without this `tf.grad` fails with "gradient
 * function not found". Does nothing when they are already registered (e.g. by tfjs-node).
 */
export function ensureGradientsRegistered(): Promise<void> {
  registration ??= registerAll().catch((error: unknown) => {
    registration = undefined;
    throw error;
  });
  return registration;
}
