/** A label set as every API spells it: `{"job": "node", "instance": "host1:9100"}`. */
export type Labels = Record<string, string>;
