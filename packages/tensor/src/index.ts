/**
 * `@llm2clip/tensor`: everything numeric that the model packages share — backend selection,
 * safetensors IO, named parameters, nn building blocks (linear, norms, attention, activations,
 * losses), AdamW with schedules and clipping, atomic checkpoints.
 *
 * @packageDocumentation
 */
export * from './backend/index.js';
export {
  SAFETENSORS_MAX_HEADER_BYTES,
  parseSafetensorsHeader,
  decodeTensorBytes,
  readSafetensors,
  parseSafetensors,
  serializeSafetensors,
  writeSafetensors,
  readBytes,
  type SafetensorsDtype,
  type HostTensor,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SafetensorsFile,
} from './safetensors.js';
export { toHostTensor, fromHostTensor } from './host-tensor.js';
export { ParameterStore } from './parameters.js';
export { normalInit, zerosInit, onesInit, kaimingUniformInit } from './init.js';
export * from './nn/index.js';
export * from './optim/index.js';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  checkpointDirName,
  saveCheckpoint,
  listCheckpoints,
  latestCheckpoint,
  removeCheckpointLeftovers,
  loadCheckpoint,
  validateTrainerJson,
  CHECKPOINT_MAX_TRAINER_JSON_BYTES,
  type CheckpointContent,
  type TrainerJson,
} from './checkpoint.js';
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
