"""Reference implementation of two audit findings, in DuckDB, for benchmarking offboard.

Computes `leaver-active` and `orphan` for an organisation written by `offboard-gen` (which
writes one account per line, so exports read as newline-delimited JSON here), with the
same semantics as offboard (first matching `correlate` line wins: email, then username,
case-insensitively; an account matching several people is disputed, not owned; cutoffs
follow the generator's rules: involuntary at once, retirement end of last day + 1 day,
everything else end of last day, all in UTC). Prints the findings as JSON lines sorted by
(kind, system, account) and the elapsed time on stderr.

    python benches/reference.py ORG_DIR NOW > findings.jsonl
"""

import json
import sys
import time

import duckdb

org, now = sys.argv[1], sys.argv[2]
start = time.perf_counter()
con = duckdb.connect()
con.execute("SET threads TO 2")
con.execute(f"""
CREATE TABLE people AS
SELECT lower(email) AS email, lower(username) AS username, status, termination_type,
       try_cast(termination_at AS TIMESTAMPTZ) AS termination_at, try_cast(last_day AS DATE) AS last_day
FROM read_csv('{org}/inventory/people.csv', header = true, all_varchar = true)
""")
con.execute(f"""
CREATE TABLE accounts AS
SELECT regexp_extract(filename, '([^/]+)\\.json$', 1) AS system, id, lower(username) AS username, status,
       list_transform(coalesce(emails, []), lambda e: lower(e)) AS emails
FROM read_ndjson('{org}/inventory/accounts/*.json', filename = true, ignore_errors = true,
     columns = {{'id': 'VARCHAR', 'username': 'VARCHAR', 'status': 'VARCHAR', 'emails': 'VARCHAR[]'}})
WHERE id IS NOT NULL
""")
rows = con.execute(f"""
WITH by_email AS (
    SELECT a.system, a.id, count(DISTINCT p.email) AS n, min(p.email) AS owner
    FROM accounts a, unnest(a.emails) AS t(e) JOIN people p ON p.email = t.e
    GROUP BY a.system, a.id
), by_username AS (
    SELECT a.system, a.id, count(DISTINCT p.email) AS n, min(p.email) AS owner
    FROM accounts a JOIN people p ON p.username = a.username
    GROUP BY a.system, a.id
), owned AS (
    SELECT a.system, a.id, a.status,
           coalesce(e.n, u.n, 0) AS n,
           coalesce(e.owner, u.owner) AS owner
    FROM accounts a
    LEFT JOIN by_email e USING (system, id)
    LEFT JOIN by_username u ON u.system = a.system AND u.id = a.id AND e.n IS NULL
), due AS (
    SELECT email FROM people
    WHERE status = 'terminated' AND (
        termination_type = 'involuntary'
        OR (termination_type = 'retirement' AND (last_day + INTERVAL 2 DAY) <= TIMESTAMPTZ '{now}')
        OR (coalesce(termination_type, '') NOT IN ('involuntary', 'retirement')
            AND (last_day + INTERVAL 1 DAY) <= TIMESTAMPTZ '{now}')
        OR (last_day IS NULL AND termination_at IS NULL)
    )
)
SELECT 'leaver-active' AS kind, o.system, o.id FROM owned o JOIN due d ON d.email = o.owner
WHERE o.n = 1 AND o.status = 'active'
UNION ALL
SELECT 'orphan', system, id FROM owned WHERE n = 0 AND status = 'active'
ORDER BY 1, 2, 3
""").fetchall()
elapsed = time.perf_counter() - start
for kind, system, account in rows:
    print(json.dumps({"kind": kind, "system": system, "account": account}))
print(f"reference: {len(rows)} findings in {elapsed:.2f} s", file=sys.stderr)
