// Prints vitest's JSON results as one plain closing line, "N passed, N failed, N skipped",
// so CI logs end with a count any reader (or log scraper) understands.
import { readFileSync } from 'node:fs';

const path = process.argv[2] ?? '.vitest/results.json';
const results = JSON.parse(readFileSync(path, 'utf8'));
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
console.log(`${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`);
process.exitCode = results.numFailedTests > 0 || results.numTotalTests === 0 ? 1 : 0;
