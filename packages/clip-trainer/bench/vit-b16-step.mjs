// Stage-2 training step at full size: a ViT-B/16-shaped tower at 224 px with a fresh projection +
// the LLM2CLIP adapter (teacher dim 2048, as Llama-3.2-1B), CLIP loss, AdamW, clipping. Per batch
// size: images/s of this package next to PyTorch doing the same step on the same machine
// (bench/torch_vit_b16_step.py, /usr/bin/python3 with python3-torch) and their ratio, the peak RSS
// of each, and ours again with gradient caching over micro-batches (same gradients, less memory).
// Every measurement runs in a fresh child process. Random inputs (the step, not data loading).
// About 5 minutes on an idle 2-core machine.
// Usage: node bench/vit-b16-step.mjs [--batches 2,4,6] [--steps 2] [--text-dim 2048] [--backend auto] [--torch-threads 1] [--micro 2]
// (build first: pnpm build). Without PyTorch the reference column says so.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const steps = Number(args.steps ?? 2);
const textDim = Number(args['text-dim'] ?? 2048);
const backend = args.backend ?? 'auto';
const micro = Number(args.micro ?? 2);
const torchThreads = [Number(args['torch-threads'] ?? 1)];
const rssBatches = (args.batches ?? '2,4,6').split(',').map(Number).filter((n) => n > 0);
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function run(command, argv) {
  const child = spawnSync(command, argv, { cwd: join(here, '..'), encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = (child.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (child.status !== 0 || line === undefined) {
    const lines = (child.stderr || child.error?.message || `exit ${child.status}`).trim().split('\n');
    return { error: lines.find((l) => /Error/.test(l))?.trim() ?? lines.at(-1) };
  }
  return JSON.parse(line);
}
const ts = (b, s, micro = b) => run(process.execPath, [join(here, 'vit-b16-worker.mjs'), String(b), String(s), String(textDim), backend, String(micro)]);
const torch = (b, s, threads) => run(python, [join(here, 'torch_vit_b16_step.py'), String(b), String(s), String(textDim), String(threads)]);

console.log(`ViT-B/16 @224 + LLM2CLIP adapter (teacher dim ${textDim}): one warm-up step + ${steps - 1} timed step(s) per measurement, each in a fresh child process`);
console.log(`"micro ${micro}": the same batch by gradient caching over micro-batches of ${micro} (same gradients, less activation memory)\n`);
console.log(`  batch | ours img/s | PyTorch img/s | ratio | ours MiB | PyTorch MiB | ours micro ${micro} img/s | ours micro ${micro} MiB`);
const rows = [];
for (const b of rssBatches) {
  const o = ts(b, steps);
  const p = torch(b, steps, torchThreads[0]);
  const m = b > micro ? ts(b, steps, micro) : { error: 'n/a' };
  const cell = (r, key, digits) => (r.error !== undefined ? (r.error === 'n/a' ? '-' : 'failed') : r[key].toFixed(digits));
  const ratio = o.error === undefined && p.error === undefined ? `${(o.imagesPerSecond / p.imagesPerSecond).toFixed(2)}×` : '-';
  console.log(
    `  ${String(b).padStart(5)} | ${cell(o, 'imagesPerSecond', 3).padStart(10)} | ${cell(p, 'imagesPerSecond', 3).padStart(13)} | ${ratio.padStart(5)} | ${cell(o, 'peakRssMiB', 0).padStart(8)} | ${cell(p, 'peakRssMiB', 0).padStart(11)} | ${cell(m, 'imagesPerSecond', 3).padStart(19)} | ${cell(m, 'peakRssMiB', 0).padStart(16)}`,
  );
  for (const r of [o, p, m]) if (r.error !== undefined && r.error !== 'n/a') console.log(`    failed: ${r.error}`);
  rows.push({ b, o, p });
}
console.log(`\nbackend: ${rows.find((r) => r.o.backend !== undefined)?.o.backend ?? backend}; PyTorch ${rows.find((r) => r.p.torch !== undefined)?.p.torch ?? '(not run)'} with ${torchThreads[0]} torch thread(s)`);
