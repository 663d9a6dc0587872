/** `/api/v1/metadata`: for each metric name, what its targets' expositions said of it. */
export type MetadataData = Record<string, { type: string; help: string; unit: string }[]>;
