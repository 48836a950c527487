/**
 * Semantic version of the interfaces exported by `@llm2clip/core` (`TextEmbedder`,
 * `ImageEmbedder`, `SampleSource`, `EmbeddingStore` and the on-disk format descriptors).
 * A breaking change to any of them bumps the major version, with a changeset.
 */
export const INTERFACE_VERSION = '1.0.0';
