import type { ParameterStore } from '@llm2clip/tensor';

/**
 * Freezes every weight of `store` (LLM2CLIP's `TextProj.lock`, or the baseline's text tower);
 * returns a function that restores the previous trainable flags. Vision towers lock by open_clip's
 * groups with their own `lock(unlockedGroups)` (`@llm2clip/vision`).
 */
export function lockStore(store: ParameterStore): () => void {
  const before = store.entries().map(([name, variable]) => [name, variable.trainable] as const);
  for (const [, variable] of store.entries()) variable.trainable = false;
  return () => {
    for (const [name, trainable] of before) if (store.has(name)) store.get(name).trainable = trainable;
  };
}
