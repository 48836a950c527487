/**
 * Checks on the files of a downloaded model directory that come before any weight is read:
 * pickle checkpoints are refused (never unpickled), and `model.safetensors.index.json` is
 * validated with every shard confined to the model directory. The logic lives once in
 * `@llm2clip/tensor` (shared with `@llm2clip/vision`); this module re-exports it for the LLM loaders.
 */
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
} from '@llm2clip/tensor';
