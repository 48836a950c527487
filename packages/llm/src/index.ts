/**
 * `@llm2clip/llm`: Llama-family decoders (Llama, Mistral, Qwen2) in TensorFlow.js with Hugging
 * Face file layouts, causal or bidirectional attention, LoRA in PEFT layout, pooling, and an
 * LLM2Vec-style caption embedder implementing `TextEmbedder`.
 *
 * @packageDocumentation
 */
export {
  SUPPORTED_MODEL_TYPES,
  SUPPORTED_ARCHITECTURES,
  RopeScalingSchema,
  LlamaConfigSchema,
  parseLlamaConfig,
  readLlamaConfig,
  headDimOf,
  kvHeadsOf,
  attentionBiasesOf,
  slidingWindowOf,
  firstSlidingWindowLayer,
  LLM_CONFIG_LIMITS,
  llamaParameterCount,
  MAX_CONFIG_BYTES,
  type LlamaConfig,
  type LlamaConfigInput,
} from './config.js';
export { ropeInverseFrequencies, ropePositionIds, ropeTables, rotateHalf, applyRope, type RopeTables } from './rope.js';
export {
  LlamaModel,
  LLAMA_LINEAR_MODULES,
  linearModuleName,
  llamaParameterShapes,
  readModelWeights,
  type LoadOptions,
  type SaveOptions,
  type LlamaLinearModule,
  type LinearAdapter,
  type ForwardContext,
  type ForwardOptions,
  type CreateOptions,
} from './llama-model.js';
export {
  LlmTokenizer,
  LLAMA3_USER_HEADER,
  LLAMA3_END_OF_TURN,
  type ChatTemplate,
  type LlmTokenizerOptions,
  type TextInput,
  type TokenizeOptions,
  type EncodeBatchOptions,
  type TokenizedText,
  type EncodedBatch,
} from './tokenizer.js';
export { validateTokenizerJson, TokenizerJsonSchema, MAX_TOKEN_ID, MAX_PATTERN_LENGTH } from './tokenizer-validation.js';
export {
  PICKLE_EXTENSIONS,
  MAX_INDEX_BYTES,
  MAX_INDEX_TENSORS,
  MAX_INDEX_NAME_LENGTH,
  isPickleCheckpoint,
  pickleCheckpointError,
  refusePickleFile,
  pickleCheckpointsIn,
  refusePickleOnlyDirectory,
  readSafetensorsIndex,
  parseSafetensorsIndex,
  resolveShard,
  type SafetensorsIndex,
} from './model-files.js';
export { POOLING_MODES, poolingWeights, poolHiddenStates, type PoolingMode } from './pooling.js';
export { dropoutMask } from './dropout.js';
export {
  LoraAdapter,
  LoraOptionsSchema,
  PEFT_PREFIX,
  loraTensorName,
  parseLoraOptions,
  loadAdapter,
  type LoraOptions,
  type LoraOptionsInput,
  type LoraTargetModule,
  type AdapterMetadata,
} from './lora.js';
export {
  LlmEmbedder,
  type LlmEmbedderOptions,
  type LlmEmbedderPretrainedOptions,
  type EmbedTensorOptions,
} from './embedder.js';
export { causalLmLoss } from './causal-lm-loss.js';
export {
  elementCount,
  halfToFloat,
  floatToHalf,
  floatToBf16,
  convertF16,
  convertBf16,
  type WeightInfo,
  type WeightSource,
} from './weight-source.js';
export { SafetensorsSource } from './safetensors-source.js';
export { writeSafetensorsModel, type SaveDtype, type TensorToWrite, type WriteModelOptions } from './safetensors-writer.js';
export {
  GGUF_VALUE_TYPE,
  GGUF_LIMITS,
  GGML_TYPE,
  Q8_0_BLOCK,
  GgufFile,
  ggmlTensorBytes,
  dequantizeQ8_0,
  quantizeQ8_0,
  writeGguf,
  type GgmlTypeName,
  type GgufValue,
  type GgufKeyValue,
  type GgufTensorInfo,
  type GgufHeader,
  type GgufTensorToWrite,
} from './gguf.js';
export {
  GGUF_ARCHITECTURES,
  MAX_MERGE_WORK,
  LLAMA3_PRETOKENIZER_REGEX,
  QWEN2_PRETOKENIZER_REGEX,
  GgufSource,
  hfTensorName,
  ggufTensorName,
  permuteRopeRows,
  ggufConfig,
  ggufTokenizerJson,
  sentencePieceMerges,
  llama3RopeFactors,
  loadGgufModel,
  writeGgufModel,
  type GgufModel,
  type WriteGgufOptions,
} from './gguf-model.js';
export {
  hubDownload,
  hubSnapshot,
  resolvePretrained,
  hubOfflineFromEnv,
  defaultHubCacheDir,
  isHubRepoId,
  repoCacheDir,
  type HubOptions,
  type SnapshotFiles,
} from './hub.js';
