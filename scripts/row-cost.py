#!/usr/bin/env python3
"""MariaDB's CPU per `requests` row, apart from the proxy: how much of the database's share of a
logged request is the row's long values, and how much any row costs (BENCHMARKS.md, "What the
figures say", throughput).

    python3 scripts/row-cost.py DATABASE [ROWS] [VARIANTS]    # needs PyMySQL (pip install pymysql)

DATABASE is a TokenSlipper database on 127.0.0.1:3306 (root, no password) holding at least one
logged request, e.g. after `scripts/wrk-cpu.sh` against a logging proxy. Its first row is copied
ROWS times (40,000 by default; new time-ordered ids, as the proxy's UUIDv7) into a fresh database
`rowcost` with the same table and indexes, in INSERTs of 128 rows, a commit every 640 (the
proxy's statement shape and about its batch at c=32). VARIANTS, comma-separated, each run in turn
(default full,slim,bare,full,slim,bare):
  full  the row as logged;
  slim  without its long values (request envelope, response JSON, preview, reply text);
  bare  every nullable column NULL.
Prints MariaDB's CPU (user + system, from /proc) per row for each. The statements use the text
protocol, not the proxy's prepared ones: compare the variants with each other.
"""
import os
import sys
import time

import pymysql

LONG_VALUES = ["request_envelope", "response_json", "last_user_message_preview", "reply_text"]
ROWS_PER_STATEMENT = 128
STATEMENTS_PER_COMMIT = 5


def database_cpu_ticks():
    pid = os.popen("pgrep -x mariadbd || pgrep -x mysqld").read().split()[0]
    fields = open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def main():
    source = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 40_000
    variants = (sys.argv[3] if len(sys.argv) > 3 else "full,slim,bare,full,slim,bare").split(",")
    conn = pymysql.connect(host="127.0.0.1", user="root", database=source, autocommit=False)
    cur = conn.cursor()
    cur.execute("SELECT * FROM requests LIMIT 1")
    columns = [d[0] for d in cur.description]
    sample = cur.fetchone()
    if sample is None:
        sys.exit(f"row-cost: {source}.requests holds no row to copy")
    cur.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = 'requests' AND is_nullable = 'YES'",
        (source,),
    )
    nullable = {r[0] for r in cur.fetchall()}
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    for variant in variants:
        row = dict(zip(columns, sample))
        if variant == "slim":
            row.update({k: None for k in LONG_VALUES if k in nullable})
            row["request_envelope"] = b""
        elif variant == "bare":
            row.update({k: None for k in nullable})
        elif variant != "full":
            sys.exit(f"row-cost: unknown variant {variant!r}")
        cur.execute("DROP DATABASE IF EXISTS rowcost")
        cur.execute("CREATE DATABASE rowcost")
        cur.execute(f"CREATE TABLE rowcost.requests LIKE `{source}`.requests")
        # Time-ordered ids, as UUIDv7 keeps the proxy's inserts at the end of the primary key.
        first_id = int(time.time() * 1000) << 80
        statements = []
        for start in range(0, rows, ROWS_PER_STATEMENT):
            values = []
            for n in range(start, min(rows, start + ROWS_PER_STATEMENT)):
                row["id"] = (first_id + n).to_bytes(16, "big")
                values.append("(" + ",".join(conn.escape(row[c]) for c in columns) + ")")
            statements.append(f"INSERT INTO rowcost.requests ({','.join(columns)}) VALUES {','.join(values)}")
        before, began = database_cpu_ticks(), time.time()
        for n, statement in enumerate(statements):
            cur.execute(statement)
            if n % STATEMENTS_PER_COMMIT == STATEMENTS_PER_COMMIT - 1:
                conn.commit()
        conn.commit()
        cpu_us = (database_cpu_ticks() - before) * 1e6 / ticks_per_second
        elapsed = time.time() - began
        print(f"{variant}: {rows} rows, MariaDB {cpu_us / rows:.1f} µs per row, {rows / elapsed:.0f} rows/s")
    cur.execute("DROP DATABASE rowcost")


if __name__ == "__main__":
    main()
