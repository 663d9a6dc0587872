// A matcher as Alertmanager's API v2 spells it (in silences and alert filters).

export interface APIMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}
