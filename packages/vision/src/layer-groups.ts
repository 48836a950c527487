import type { ParameterStore } from '@llm2clip/tensor';

/**
 * Each weight of a ViT in a lock group, as open_clip's `VisionTransformer.lock` groups them:
 * `0` embeddings (+ pre-norm), `1 … L−1` blocks `0 … L−2`, `L` the last block with the final norm,
 * `L + 1` the projection head.
 */
export interface LockGroups {
  /** Number of groups (`numLayers + 2`). */
  count: number;
  /** Group index of a weight. */
  groupOf(name: string): number;
}

/**
 * Builds {@link LockGroups} for a tower of `numLayers` blocks: `blockOf` parses a block index out
 * of a weight name (or `undefined`), `isHead` and `isFinalNorm` recognise the head and the final norm.
 */
export function lockGroups(numLayers: number, blockOf: (name: string) => number | undefined, isHead: (name: string) => boolean, isFinalNorm: (name: string) => boolean): LockGroups {
  return {
    count: numLayers + 2,
    groupOf(name: string): number {
      if (isHead(name)) return numLayers + 1;
      if (isFinalNorm(name)) return numLayers;
      const block = blockOf(name);
      if (block !== undefined) return Math.min(block + 1, numLayers);
      return 0;
    },
  };
}

/**
 * Freezes a tower except its last `unlockedGroups` groups (open_clip's `lock_image_tower(
 * unlocked_groups)`): `0` freezes everything, `groups.count` unfreezes everything. With
 * `freezeNorms`, layer-norm weights stay frozen even in unlocked groups.
 */
export function applyLock(store: ParameterStore, groups: LockGroups, unlockedGroups: number, options: { freezeNorms?: boolean; isNorm?: (name: string) => boolean } = {}): void {
  const firstUnlocked = groups.count - Math.max(0, Math.min(unlockedGroups, groups.count));
  store.setTrainable((name) => groups.groupOf(name) >= firstUnlocked && !(options.freezeNorms === true && options.isNorm?.(name) === true), true, true);
}
