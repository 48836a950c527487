import { packageTestProject } from '../../vitest.shared.js';

export default packageTestProject('crash-harness');
