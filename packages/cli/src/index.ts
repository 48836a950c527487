/**
 * `@llm2clip/cli`: the `llm2clip` command. `llm2clip demo` runs LLM2CLIP end to end on the
 * built-in synthetic data. The command tree and the progress renderer are exported for reuse.
 *
 * @packageDocumentation
 */
export { buildProgram, runCli } from './program.js';
export { createProgressRenderer, type ProgressRendererOptions } from './progress-renderer.js';
