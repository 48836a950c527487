/**
 * `@llm2clip/distributed`: data-parallel runs over MPI — the process group
 * ({@link initDistributed}) and collectives on TensorFlow.js tensors: all-reduce (bucketed
 * over many gradients), broadcast of initial weights, all-gather with a gradient (open_clip's
 * `gather_with_grad`), barrier. Without a launcher it is a world of one that needs no MPI.
 *
 * @packageDocumentation
 */
export { detectLauncher, type LauncherInfo, type LauncherName } from './launcher.js';
export { MPI_ABI_VERSION, MPI_ADDON_PATH_ENV, mpiAddonStatus, defaultMpiAddonPath, type MpiAddonStatus } from './mpi-addon.js';
export { SingleCommunicator, type Communicator, type ReduceOp } from './communicator.js';
export {
  DISTRIBUTED_ENV,
  initDistributed,
  getProcessGroup,
  getCommunicator,
  barrier,
  finalizeDistributed,
  type DistributedBackend,
  type ProcessGroup,
  type InitDistributedOptions,
} from './process-group.js';
export { allReduce, type AllReduceOp } from './all-reduce.js';
export { DEFAULT_BUCKET_BYTES, planBuckets, allReduceBucketed, releaseBucketBuffers, type Bucket, type BucketedAllReduceOptions } from './buckets.js';
export { broadcastTensors, broadcastVariables, broadcastParameters, broadcastArray, type NamedVariables } from './broadcast.js';
export { allGather, allGatherWithGrad } from './all-gather.js';
export { requireSameOnAllRanks, anyRank, type AgreementContext } from './agreement.js';
