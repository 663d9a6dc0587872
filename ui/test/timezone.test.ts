// The one time zone of the UI: times printed and read back in the browser's zone or in UTC,
// with the zone named, and the choice carried from page to page in the URL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { currentZone, dateTime, keepZone, parseDateTime, stamp, zoneLabel } from "../src/timezone";

process.env.TZ = "America/New_York";

const WINTER = Date.UTC(2026, 11, 7, 3, 21, 5);
const SUMMER = Date.UTC(2026, 6, 1, 12, 0, 0);

test("times print in the chosen zone, which is named", () => {
  assert.equal(dateTime(WINTER, "utc"), "2026-12-07 03:21:05");
  assert.equal(dateTime(WINTER, "browser"), "2026-12-06 22:21:05");
  assert.equal(stamp(WINTER, "utc"), "2026-12-07 03:21:05 UTC");
  assert.equal(stamp(WINTER, "browser"), "2026-12-06 22:21:05 UTC-05:00");
  assert.equal(zoneLabel("browser", SUMMER), "UTC-04:00");
});

test("typed times are read in the chosen zone", () => {
  assert.equal(parseDateTime("2026-12-07 03:21:05", "utc"), WINTER);
  assert.equal(parseDateTime("2026-12-06 22:21:05", "browser"), WINTER);
  assert.equal(parseDateTime("2026-12-07 03:21", "utc"), WINTER - 5000);
  assert.equal(parseDateTime("now-1h", "utc"), null);
  assert.equal(parseDateTime(dateTime(SUMMER, "browser"), "browser"), SUMMER);
});

test("the zone is kept in the URL from page to page", () => {
  assert.equal(currentZone("?tz=utc"), "utc");
  assert.equal(currentZone("?from=now-1h"), "browser");
  assert.equal(keepZone("/alerts", "?tz=utc"), "/alerts?tz=utc");
  assert.equal(keepZone("/d/x?from=1&to=2#p", "?tz=utc"), "/d/x?from=1&to=2&tz=utc#p");
  assert.equal(keepZone("/alerts?tz=browser", "?tz=utc"), "/alerts?tz=browser");
  assert.equal(keepZone("/alerts", ""), "/alerts");
});
