// Grafana's unit formatting. Cases marked "grafana test" are copied from
// grafana/grafana packages/grafana-data/src/valueFormats/valueFormats.test.ts; the others are
// worked by hand from valueFormats.ts (toFixed, getDecimalsForValue, scaledUnits),
// symbolFormatters.ts (binaryPrefix, SIPrefix, currency) and dateTimeFormatters.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { autoDecimals, formatValue, formattedToString, toFixed, unitFormatter } from "../src/dashboards/units";

const CASES: [unit: string, decimals: number | null, value: number, want: string][] = [
  // grafana tests
  ["currencyUSD", 2, 1532.82, "$1.53K"],
  ["ms", 4, 0.0024, "0.0024 ms"],
  ["ms", 0, 100, "100 ms"],
  ["ms", 2, 1250, "1.25 s"],
  ["ms", 1, 10000086.123, "2.8 hour"],
  ["ms", 0, 1200, "1 s"],
  ["short", 2, 9876543, "9.88 Mil"],
  ["kbytes", 3, 10000000, "9.537 GiB"],
  ["deckbytes", 3, 10000000, "10.000 GB"],
  ["a", 0, 1532.82, "1533 a"],
  ["prefix:b", null, 1532.82, "b1533"],
  ["suffix:d", null, 1532.82, "1533 d"],
  ["si:µF", 2, 1234, "1.23 mF"],
  ["si:µF", 2, 1234000000, "1.23 kF"],
  ["count:xpm", 2, 1234567, "1.23M xpm"],
  ["currency:@", 2, 1234, "@1.23K"],
  // automatic decimals: two significant digits, three when the mantissa is above 2.25
  ["bytes", null, 1536, "1.50 KiB"],
  ["bytes", null, 1024, "1 KiB"],
  ["bytes", null, 0, "0 B"],
  ["bytes", null, 512, "512 B"],
  ["decbytes", null, 1536, "1.54 kB"],
  ["decbytes", null, 0.5, "500 mB"],
  ["bits", null, 2048, "2 Kib"],
  ["decbits", null, 1e6, "1 Mb"],
  ["mbytes", null, 2048, "2 GiB"],
  ["percentunit", null, 0.253, "25.3%"],
  ["percentunit", 0, 0.253, "25%"],
  ["percent", null, 42.123, "42.1%"],
  ["percent", null, 1.5, "1.50%"],
  ["humidity", null, 55, "55 %H"],
  ["dB", 1, -3, "-3.0 dB"],
  ["short", null, 1234, "1.23 K"],
  ["short", null, 12, "12"],
  ["short", null, 0.1234, "0.123"],
  ["short", null, 1.5e9, "1.50 Bil"],
  ["none", null, 1536, "1536"],
  ["none", 2, 1.005, "1.00"],
  ["Bps", null, 1500, "1.50 kB/s"],
  ["binBps", null, 1536, "1.50 KiB/s"],
  ["bps", null, 1e9, "1 Gb/s"],
  ["binbps", null, 1024 * 1024, "1 Mib/s"],
  ["KBs", null, 1500, "1.50 MB/s"],
  ["pps", null, 20, "20 p/s"],
  ["ops", null, 5, "5 ops"],
  ["reqps", null, 1500, "1.50K reqps"],
  ["iops", 1, 2000000, "2.0M iops"],
  ["s", null, 3600, "1 hour"],
  ["s", null, 5400, "1.50 hour"],
  ["s", null, 0, "0 s"],
  ["s", null, 0.0015, "1.50 ms"],
  ["s", null, 45, "45 s"],
  ["s", null, 90, "1.50 min"],
  ["s", null, 86400 * 2, "2 day"],
  ["ms", null, 250, "250 ms"],
  ["µs", null, 1500, "1.50 ms"],
  ["ns", null, 1500, "1.50 µs"],
  ["m", null, 90, "1.50 hour"],
  ["h", null, 48, "2 day"],
  ["d", null, 14, "2 week"],
  ["dtdurations", null, 3661, "1 hour"],
  ["dtdurations", 2, 3661, "1 hour, 1 minute, 1 second"],
  ["dtdurations", null, 0, "0 seconds"],
  ["dtdurations", 1, -120, "2 minutes, 0 seconds ago"],
  ["dtdurationms", 1, 1500, "1 second, 500 milliseconds"],
  ["dthms", null, 3661, "01:01:01"],
  ["dtdhms", null, 90061, "1 d 01:01:01"],
  ["hertz", null, 2400000, "2.40 MHz"],
  ["celsius", 1, 21.55, "21.6 °C"],
  ["fahrenheit", null, 70, "70 °F"],
  ["volt", null, 0.2, "200 mV"],
  ["watt", null, 1500, "1.50 kW"],
  ["kwatt", null, 1500, "1.50 MW"],
  ["amp", null, 3, "3 A"],
  ["currencyUSD", null, -1500, "-$1.50K"],
  ["hex", null, 255, "FF"],
  ["hex0x", null, 255, "0xFF"],
  ["sci", 2, 123456, "1.23e+5"],
  ["locale", null, 1234567.5, (1234567.5).toLocaleString()],
  ["bool", null, 1, "True"],
  ["bool_on_off", null, 0, "Off"],
  ["req/s", null, 12.5, "12.5 req/s"],
];

for (const [unit, decimals, value, want] of CASES) {
  test(`${unit} ${decimals ?? "auto"} ${value} → ${want}`, () => {
    assert.equal(unitFormatter(unit, decimals)(value), want);
  });
}

test("formatValue keeps the parts apart", () => {
  assert.deepEqual(formatValue("bytes", null, 1536), { text: "1.50", suffix: " KiB" });
  assert.deepEqual(formatValue("currencyUSD", 0, 12), { text: "12", suffix: "", prefix: "$" });
  assert.deepEqual(formatValue("percent", null, null), { text: "" });
  assert.equal(formattedToString(formatValue("prefix:€", 2, 3)), "€3.00");
});

test("toFixed: grafana tests", () => {
  assert.equal(toFixed(100), "100");
  assert.equal(toFixed(100.4), "100");
  assert.equal(toFixed(100.5), "101");
  assert.equal(toFixed(100, 1), "100.0");
  assert.equal(toFixed(100.37, 1), "100.4");
  assert.equal(toFixed(100.4, 2), "100.40");
  assert.equal(toFixed(186.123, -2), "186");
  assert.equal(toFixed(NaN), "NaN");
  assert.equal(toFixed(Infinity), Infinity.toLocaleString());
});

test("autoDecimals follows getDecimalsForValue", () => {
  const cases: [number, number][] = [[1.5, 2], [2.2, 2], [0.5, 3], [25.3, 1], [150, 0], [0.0123, 4], [7, 0], [-1.5, 1]];
  for (const [v, d] of cases) assert.equal(autoDecimals(v), d, `autoDecimals(${v})`);
});
