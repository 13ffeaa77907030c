#!/usr/bin/python3
"""Golden values for src/time/parse-timestamp.ts from Python zoneinfo (fold=0, the default).

Run: /usr/bin/python3 scripts/golden/clean_time.py  → test/fixtures/clean-time-golden.json
Covers Europe/Brussels DST edges (spring-forward gap, autumn fall-back overlap) in 2015 (the
occupancy data year) and a few other zones, plus ISO strings with offsets.
"""
import json
import os
from datetime import datetime, timezone, timedelta
from zoneinfo import ZoneInfo

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'clean-time-golden.json')


def local_case(text, tz):
    date, time = text.replace('T', ' ').split(' ')
    y, mo, d = map(int, date.split('-'))
    hh, mm, ss = map(int, time.split(':'))
    dt = datetime(y, mo, d, hh, mm, ss, tzinfo=ZoneInfo(tz))  # fold=0
    return {'input': text, 'timeZone': tz, 'expectedMs': int(dt.timestamp() * 1000)}


local = []
brussels = [
    # 2015 spring forward: 2015-03-29 02:00 CET -> 03:00 CEST (01:00 UTC)
    '2015-03-29 00:59:59', '2015-03-29 01:00:00', '2015-03-29 01:59:59', '2015-03-29 02:00:00',
    '2015-03-29 02:30:00', '2015-03-29 02:59:59', '2015-03-29 03:00:00', '2015-03-29 03:00:01',
    '2015-03-28 02:30:00', '2015-03-30 02:30:00',
    # 2015 fall back: 2015-10-25 03:00 CEST -> 02:00 CET (01:00 UTC); 02:00..02:59 happens twice
    '2015-10-25 01:59:59', '2015-10-25 02:00:00', '2015-10-25 02:30:00', '2015-10-25 02:59:59',
    '2015-10-25 03:00:00', '2015-10-25 03:00:01', '2015-10-24 02:30:00', '2015-10-26 02:30:00',
    # the occupancy data window and ordinary times
    '2015-02-04 17:51:00', '2015-02-10 09:33:00', '2015-02-11T14:48:00', '2015-07-01 12:00:00',
    '1970-01-01 01:00:00', '2199-12-31 23:00:00',
]
for t in brussels:
    local.append(local_case(t, 'Europe/Brussels'))
for t, tz in [
    ('2015-03-08 02:30:00', 'America/New_York'), ('2015-11-01 01:30:00', 'America/New_York'),
    ('2015-11-01 02:30:00', 'America/New_York'), ('2015-04-05 02:30:00', 'Australia/Sydney'),
    ('2015-10-04 02:30:00', 'Australia/Sydney'), ('2015-06-01 00:00:00', 'Asia/Kathmandu'),
    ('2015-06-01 12:00:00', 'UTC'), ('2024-02-29 23:59:59', 'Asia/Tokyo'),
]:
    local.append(local_case(t, tz))

iso = []
for t in ['2015-02-04T17:51:00Z', '2015-02-04T17:51:00+01:00', '2015-02-04T17:51:00.123-05:30',
          '2015-02-04T17:51:00.5+00:00', '2000-02-29T00:00:00Z', '1970-01-01T00:00:00Z',
          '2200-01-01T00:00:00Z', '2015-10-25T02:30:00+02:00', '2015-10-25T02:30:00+01:00']:
    iso.append({'input': t, 'expectedMs': int(round(datetime.fromisoformat(t.replace('Z', '+00:00')).timestamp() * 1000))})

with open(OUT, 'w') as f:
    json.dump({'generator': 'scripts/golden/clean_time.py', 'local': local, 'iso': iso}, f, indent=1)
print('wrote', OUT, len(local), 'local,', len(iso), 'iso')
