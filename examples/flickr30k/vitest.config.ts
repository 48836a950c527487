import { packageTestProject } from '../../vitest.shared.js';

export default packageTestProject('example-flickr30k');
