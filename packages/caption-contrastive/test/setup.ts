import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureGradientsRegistered } from '@llm2clip/tensor';

// Tests run on the stock tfjs cpu backend (deterministic, always available); tfjs-core's Node
// bundle registers no gradients, so register them as initBackend() would.
await ensureGradientsRegistered();
await tf.setBackend('cpu');
