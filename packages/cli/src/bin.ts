#!/usr/bin/env node
import { isLlm2ClipError } from '@llm2clip/core';
import { runCli } from './program.js';

runCli().catch((error: unknown) => {
  if (isLlm2ClipError(error)) {
    process.stderr.write(`llm2clip: ${error.message}\n`);
  } else {
    process.stderr.write(`llm2clip: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exitCode = 1;
});
