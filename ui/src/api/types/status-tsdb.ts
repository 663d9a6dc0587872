// /api/v1/status/tsdb, with vigil's persisted blocks.

export interface NameValue {
  name: string;
  value: number;
}

export interface Block {
  ulid: string;
  minTime: number;
  maxTime: number;
  numSamples: number;
  numSeries: number;
  level?: number;
  size?: number;
}

export interface TSDBStatus {
  headStats: { numSeries: number; chunkCount: number; minTime: number; maxTime: number };
  seriesCountByMetricName: NameValue[];
  labelValueCountByLabelName: NameValue[];
  memoryInBytesByLabelName?: NameValue[];
  seriesCountByLabelValuePair: NameValue[];
  maxSeries?: number;
  refusedSeriesByMetricName?: NameValue[];
  blocks?: Block[];
}
