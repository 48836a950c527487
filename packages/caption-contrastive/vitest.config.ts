import { packageTestProject } from '../../vitest.shared.js';

export default packageTestProject('caption-contrastive', { setupFiles: ['test/setup.ts'] });
