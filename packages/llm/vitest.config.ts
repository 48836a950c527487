import { packageTestProject } from '../../vitest.shared.js';

export default packageTestProject('llm', { setupFiles: ['test/setup.ts'] });
