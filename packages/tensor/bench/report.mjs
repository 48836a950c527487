// The printed tables and the target checks of bench/run.mjs.

const MODELS = ['vit', 'llama'];

/** The backends that ran, in initBackend()'s preference order. */
function available(results) {
  return results.backends.filter((b) => b.available);
}

/** The backend `initBackend()` would pick here: the first available one benched. */
function defaultBackend(results) {
  return available(results)[0];
}

function torchMatmul(results, size, mode) {
  return results.torch.available ? results.torch.matmul.find((r) => r.size === size && r.mode === mode) : undefined;
}

function stepOf(backend, model) {
  const record = backend.tasks[model];
  return record?.medianSeconds !== undefined ? record : undefined;
}

const mib = (value) => (value === undefined ? '-' : `${value.toFixed(0)} MiB`);
const ms = (seconds) => `${(seconds * 1000).toFixed(0)} ms`;

/**
 * The issue's targets for the default backend: matmul ≥ 90% of PyTorch's GFLOPS at 1024² and
 * 2048² (both modes), and each training step ≤ 1.25× PyTorch's time, all from this run.
 */
export function evaluateTargets(results) {
  const backend = defaultBackend(results);
  const targets = [];
  if (backend === undefined || !results.torch.available) return targets;
  for (const size of [1024, 2048]) {
    for (const mode of results.shapes.matmul.modes) {
      const mine = backend.tasks.matmul?.find((r) => r.size === size && r.mode === mode);
      const ref = torchMatmul(results, size, mode);
      if (ref === undefined) continue;
      const ratio = mine?.gflops !== undefined ? mine.gflops / ref.gflops : undefined;
      targets.push({
        name: `matmul ${size}² ${mode}`,
        backend: backend.name,
        value: mine?.gflops,
        reference: ref.gflops,
        ratio,
        goal: '≥ 0.90 of torch GFLOPS',
        pass: ratio !== undefined && ratio >= 0.9,
        note: mine?.gflops === undefined ? mine?.skipped ?? 'not measured' : undefined,
      });
    }
  }
  for (const model of MODELS) {
    const ref = results.torch.steps[model];
    if (ref?.medianSeconds === undefined) continue;
    const mine = stepOf(backend, model);
    const ratio = mine !== undefined ? mine.medianSeconds / ref.medianSeconds : undefined;
    targets.push({
      name: `step ${results.shapes[model].label}`,
      backend: backend.name,
      value: mine?.medianSeconds,
      reference: ref.medianSeconds,
      ratio,
      goal: '≤ 1.25× torch time',
      pass: ratio !== undefined && ratio <= 1.25,
      note: mine === undefined ? backend.failures[model] ?? 'not measured' : undefined,
    });
  }
  return targets;
}

/** Prints the tables, ratios, memory lines and target lines. */
export function printReport(results, log) {
  const ran = available(results);
  const torch = results.torch;
  const notes = [];
  const note = (text) => {
    let index = notes.indexOf(text);
    if (index < 0) index = notes.push(text) - 1;
    return `[${index + 1}]`;
  };

  log('');
  log(`=== @llm2clip/tensor bench — ${results.date} — ${results.machine.cpus}× ${results.machine.cpu}, load ${results.machine.loadAverageAtStart.join(' ')} at start ===`);
  for (const backend of results.backends) {
    if (backend.available) log(`backend ${backend.name}: tfjs '${backend.info.tfBackend}', ${backend.info.threads} thread(s)`);
    else log(`backend ${backend.name}: unavailable — ${backend.reason ?? Object.values(backend.failures)[0] ?? 'unknown'}`);
  }
  log(torch.available ? `torch ${torch.version} (${torch.python}), ${torch.blas ?? ''}` : `torch: skipped — ${torch.reason}`);

  // 1. matmul
  log('');
  log('matmul GFLOPS, float32 square, best of ≥3 runs (torch: best of 1 and 2 threads, threads in parentheses)');
  const names = ran.map((b) => b.name);
  log(`  size  mode  | ${names.map((n) => n.padStart(8)).join(' ')} | ${'torch'.padStart(11)} | ${names.map((n) => `${n}/torch`.padStart(12)).join(' ')}`);
  for (const size of results.settings.sizes) {
    for (const mode of results.shapes.matmul.modes) {
      const ref = torchMatmul(results, size, mode);
      const cells = ran.map((b) => {
        const r = b.tasks.matmul?.find((x) => x.size === size && x.mode === mode);
        if (r?.gflops !== undefined) return r.gflops.toFixed(1).padStart(8);
        return `${r?.skipped !== undefined ? 'skip' : '-'}${r?.skipped !== undefined ? note(`${b.name} ${r.skipped}`) : ''}`.padStart(8);
      });
      const ratios = ran.map((b) => {
        const r = b.tasks.matmul?.find((x) => x.size === size && x.mode === mode);
        const percent = r?.gflops !== undefined && ref !== undefined ? (100 * r.gflops) / ref.gflops : undefined;
        return (percent === undefined ? '-' : `${percent.toFixed(percent < 10 ? 1 : 0)}%`).padStart(12);
      });
      const refCell = ref !== undefined ? `${ref.gflops.toFixed(1)} (${ref.threads})` : '-';
      log(`${String(size).padStart(6)}  ${mode.padEnd(5)} | ${cells.join(' ')} | ${refCell.padStart(11)} | ${ratios.join(' ')}`);
    }
  }

  // 2. training steps
  log('');
  log('training step (forward + backward + AdamW), median of the timed steps after warm-up; ratio = time / torch time');
  for (const model of MODELS) {
    const label = results.shapes[model].label;
    const ref = torch.available ? torch.steps[model] : undefined;
    const parts = [`step ${label}`];
    for (const b of results.backends.filter((x) => x.available || x.tasks.matmul !== undefined)) {
      const step = stepOf(b, model);
      if (step !== undefined) {
        const flag = step.singleStepIncludesWarmup ? note('one step including warm-up: the backend is too slow for warm-up + timed steps in the budget') : '';
        parts.push(`${b.name} ${ms(step.medianSeconds)}${flag}`);
      } else if (b.lowerBoundSeconds?.[model] !== undefined) {
        const bound = b.lowerBoundSeconds[model];
        parts.push(`${b.name} >${ms(bound)}${note(`${b.name} ${model}: ${b.failures[model]}, when its first (warm-up) step had run ${bound.toFixed(1)} s`)}`);
      } else {
        parts.push(`${b.name} ${b.failures[model] === undefined ? '-' : `—${note(`${b.name} ${model}: ${b.failures[model]}`)}`}`);
      }
    }
    parts.push(ref?.medianSeconds !== undefined ? `torch ${ms(ref.medianSeconds)} (${ref.threads} thread${ref.threads === 1 ? '' : 's'})` : 'torch -');
    for (const b of ran) {
      const step = stepOf(b, model);
      if (step !== undefined && ref?.medianSeconds !== undefined) parts.push(`${b.name}/torch ${(step.medianSeconds / ref.medianSeconds).toFixed(2)}×`);
      else if (b.lowerBoundSeconds?.[model] !== undefined && ref?.medianSeconds !== undefined) parts.push(`${b.name}/torch >${(b.lowerBoundSeconds[model] / ref.medianSeconds).toFixed(0)}×`);
    }
    log(parts.join(' | '));
  }
  const shapeLine = (model) => {
    const c = results.shapes[model];
    return model === 'vit'
      ? `(a) patch ${c.patch}, width ${c.width}, ${c.layers} layers, ${c.heads} heads, MLP ${c.mlp}, pre-LN, exact GELU, class token, proj ${c.embedDim}, CLIP loss vs a fixed random text matrix; all weights train`
      : `(b) hidden ${c.hidden}, ${c.layers} layers, ${c.heads} heads / ${c.kvHeads} kv heads, SwiGLU ${c.intermediate}, vocab ${c.vocab}, RMSNorm, RoPE, bidirectional, mean pooling, contrastive loss; LoRA r=${c.loraRank} α=${c.loraAlpha} on ${c.loraTargets.length} projections, base frozen`;
  };
  for (const model of MODELS) {
    const achieved = [...ran.map((b) => [b.name, stepOf(b, model)?.medianSeconds]), ['torch', torch.available ? torch.steps[model]?.medianSeconds : undefined]]
      .filter(([, s]) => s !== undefined)
      .map(([n, s]) => `${n} ${(results.stepGflop[model] / s).toFixed(1)}`);
    log(`  ${shapeLine(model)}; ${results.stepGflop[model].toFixed(0)} GFLOP of matmul per step${achieved.length > 0 ? ` → GFLOPS achieved: ${achieved.join(', ')}` : ''}`);
  }

  // 3. memory
  log('');
  const rss = [...ran.filter((b) => b.peakRssMiB !== undefined).map((b) => `${b.name} ${mib(b.peakRssMiB)}`), ...(torch.available ? [`torch ${mib(torch.peakRssMiB)} (one process, all tasks)`] : [])];
  log(`peak RSS per backend (largest of its task processes) | ${rss.join(' | ')}`);
  for (const b of ran) {
    const leak = b.tasks.leak ?? [];
    if (leak.length === 0) {
      if (b.failures.leak !== undefined) log(`RSS over training ${b.name}: ${b.failures.leak}`);
      continue;
    }
    const parts = leak.map((r) =>
      r.early === undefined
        ? `${r.model}: ${r.steps} steps`
        : `tiny ${r.model} steps ${r.early.step}→${r.end.step}: RSS ${r.early.rssMiB.toFixed(1)}→${r.end.rssMiB.toFixed(1)} MiB (${(r.end.rssMiB - r.early.rssMiB >= 0 ? '+' : '')}${(r.end.rssMiB - r.early.rssMiB).toFixed(1)}), tensors ${r.early.tensors}→${r.end.tensors}, ${r.msPerStep.toFixed(1)} ms/step`,
    );
    const big = MODELS.map((m) => stepOf(b, m))
      .filter((s) => s?.rssBeforeMiB !== undefined && s.stepSeconds.length > 0)
      .map((s) => `${s.model} timed steps: RSS ${(s.rssAfterMiB - s.rssBeforeMiB >= 0 ? '+' : '')}${(s.rssAfterMiB - s.rssBeforeMiB).toFixed(1)} MiB, tensors ${s.tensorsBefore}→${s.tensorsAfter}`);
    log(`RSS over training ${b.name} | ${[...parts, ...big].join(' | ')}`);
  }

  // 4. targets
  log('');
  const backend = defaultBackend(results);
  if (backend === undefined || !torch.available) {
    log('targets: not evaluated (no backend or no torch reference in this run)');
  } else {
    log(`targets for '${backend.name}', the backend initBackend() picks here (issue 3), against torch in this run:`);
    for (const t of results.targets) {
      const detail = t.name.startsWith('matmul')
        ? t.value !== undefined ? `${t.value.toFixed(1)} GFLOPS = ${(100 * t.ratio).toFixed(0)}% of torch ${t.reference.toFixed(1)}` : `not measured (${t.note})`
        : t.value !== undefined ? `${ms(t.value)} = ${t.ratio.toFixed(2)}× torch ${ms(t.reference)}` : `not measured (${t.note})`;
      log(`${t.pass ? 'PASS' : 'MISS'} ${t.name}: ${detail} (goal ${t.goal})`);
    }
  }
  if (notes.length > 0) {
    log('');
    notes.forEach((text, i) => log(`[${i + 1}] ${text}`));
  }
  log('');
  log(`Caveat: timings come from this machine only, in one run (load average ${results.machine.loadAverageAtStart.join(' ')} at start, ${results.loadAverageAtEnd?.join(' ') ?? '?'} at the end, on ${results.machine.cpus} CPUs); other processes inflate them, and each backend ran at a different moment, so ratios carry that noise too.`);
}
