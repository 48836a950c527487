/** One retrieved item shown in a report's example grid. */
export interface ExampleHit {
  /** Key of the retrieved image. */
  readonly key: string;
  /** Cosine similarity to the query. */
  readonly score: number;
  /** Whether it is a correct answer for the query. */
  readonly correct: boolean;
  /** A `data:` URI thumbnail (see `thumbnailDataUri`); absent when images were not kept. */
  readonly thumbnail?: string;
}

/** A text query and its top retrieved images, for the report's example grid. */
export interface ExampleQuery {
  /** The `models[].id` that retrieved. */
  readonly model: string;
  /** The benchmark. */
  readonly dataset: string;
  /** The caption used as the query. */
  readonly query: string;
  /** Top images, best first. */
  readonly hits: readonly ExampleHit[];
}
