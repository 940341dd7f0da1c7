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
  full    the row as logged;
  slim    without its long values (request envelope, response JSON, preview, reply text);
  bare    every nullable column NULL;
  binary  the row as logged, every text column turned binary (no character set to check);
  packed  the row's bytes all kept, but the columns only the admin API's detail page reads
          (DETAIL_ONLY) and the two long blobs packed into one LONGBLOB column;
  narrow  the same, keeping apart only the indexes' columns and the latency (NARROW_KEEPS):
          15 columns instead of 36;
  narrow-in-place  narrow's 15 values written into the table as it is (plus the packed column),
          the other 21 columns left in it, unnamed by the INSERT, NULL;
  named   the row as logged, its INSERT naming only the columns whose value is not NULL;
  jittered  the row as logged, each id displaced by up to 32 places (as a batch held them in the
          order the requests finished at c=32, before the writer sorted them);
  load    the row as logged, sent as LOAD DATA LOCAL INFILE (MariaDB's bulk path, which sqlx
          cannot send) instead of INSERTs.
Prints MariaDB's CPU (user + system, from /proc) per row for each, and the table's data bytes a
row. The statements use the text protocol, not the proxy's prepared ones: compare the variants
with each other.
"""
import datetime
import os
import random
import sys
import tempfile
import time

import pymysql

LONG_VALUES = ["request_envelope", "response_json", "last_user_message_preview", "reply_text"]
ROWS_PER_STATEMENT = 128
STATEMENTS_PER_COMMIT = 5
DETAIL_ONLY = ["finished_at", "error_message", "client_ip", "user_agent", "body_sha256", "last_message_id",
               "reply_tool_calls", "finish_reason", "messages_offset", "response_reply_offset",
               "response_tool_calls_offset"]
NARROW_KEEPS = ["id", "started_at", "client_model", "upstream_model", "outcome", "usage_source", "prompt_tokens",
                "completion_tokens", "cached_tokens", "cache_write_tokens", "conversation_id", "message_count",
                "is_stream", "latency_us"]


def database_cpu_ticks():
    pid = os.popen("pgrep -x mariadbd || pgrep -x mysqld").read().split()[0]
    fields = open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def tsv_field(value):
    """A value as LOAD DATA reads it with its default FIELDS ESCAPED BY '\\'."""
    if value is None:
        return b"\\N"
    if isinstance(value, datetime.datetime):
        value = value.strftime("%Y-%m-%d %H:%M:%S.%f")
    data = value if isinstance(value, (bytes, bytearray)) else str(value).encode()
    for raw, escaped in ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\0", b"\\0")):
        data = data.replace(raw, escaped)
    return bytes(data)


def reshape(cur, variant, columns, row):
    """Alters rowcost.requests for a variant; returns the columns its rows are written to."""
    if variant == "binary":
        cur.execute(
            "SELECT column_name, column_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'rowcost' AND table_name = 'requests' "
            "AND data_type IN ('varchar', 'text', 'longtext')"
        )
        changes = [
            f"MODIFY {name} {kind.replace('varchar', 'varbinary') if kind.startswith('varchar') else 'LONGBLOB'} "
            f"{'NULL' if nullable == 'YES' else 'NOT NULL'}"
            for name, kind, nullable in cur.fetchall()
        ]
        cur.execute("ALTER TABLE rowcost.requests " + ",".join(changes))
        return columns
    if variant in ("packed", "narrow", "narrow-in-place"):
        if variant == "packed":
            packed = DETAIL_ONLY + ["request_envelope", "response_json"]
        else:
            packed = [c for c in columns if c not in NARROW_KEEPS]
        if variant == "narrow-in-place":
            cur.execute(
                "SELECT column_name, column_type FROM information_schema.columns "
                "WHERE table_schema = 'rowcost' AND table_name = 'requests' AND is_nullable = 'NO'"
            )
            changes = [f"MODIFY {name} {kind} NULL" for name, kind in cur.fetchall() if name in packed]
        else:
            changes = [f"DROP COLUMN {c}" for c in packed]
        cur.execute("ALTER TABLE rowcost.requests " + ",".join(changes + ["ADD COLUMN packed LONGBLOB"]))
        row["packed"] = b"\x1f".join(tsv_field(row[c]) for c in packed)
        return [c for c in columns if c not in packed] + ["packed"]
    if variant == "named":
        return [c for c in columns if row[c] is not None]
    return columns


def main():
    source = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 40_000
    variants = (sys.argv[3] if len(sys.argv) > 3 else "full,slim,bare,full,slim,bare").split(",")
    conn = pymysql.connect(host="127.0.0.1", user="root", database=source, autocommit=False, local_infile=True)
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
    scratch = tempfile.mkdtemp(prefix="row-cost-")
    for variant in variants:
        row = dict(zip(columns, sample))
        if variant == "slim":
            row.update({k: None for k in LONG_VALUES if k in nullable})
            row["request_envelope"] = b""
        elif variant == "bare":
            row.update({k: None for k in nullable})
        elif variant not in ("full", "binary", "packed", "narrow", "narrow-in-place", "named", "jittered", "load"):
            sys.exit(f"row-cost: unknown variant {variant!r}")
        cur.execute("DROP DATABASE IF EXISTS rowcost")
        cur.execute("CREATE DATABASE rowcost")
        cur.execute(f"CREATE TABLE rowcost.requests LIKE `{source}`.requests")
        written = reshape(cur, variant, columns, row)
        # Time-ordered ids, as UUIDv7 keeps the proxy's inserts at the end of the primary key.
        first_id = int(time.time() * 1000) << 80
        order = list(range(rows))
        if variant == "jittered":
            jitter = random.Random(1)
            order.sort(key=lambda n: n + jitter.uniform(0, 32))
        statements = []
        for start in range(0, rows, ROWS_PER_STATEMENT):
            values = []
            for n in order[start:start + ROWS_PER_STATEMENT]:
                row["id"] = (first_id + n).to_bytes(16, "big")
                if variant == "load":
                    values.append(b"\t".join(tsv_field(row[c]) for c in written))
                else:
                    values.append("(" + ",".join(conn.escape(row[c]) for c in written) + ")")
            if variant == "load":
                path = os.path.join(scratch, f"{start}.tsv")
                with open(path, "wb") as f:
                    f.write(b"\n".join(values) + b"\n")
                statements.append(
                    f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE rowcost.requests CHARACTER SET binary "
                    f"({','.join(written)})"
                )
            else:
                statements.append(f"INSERT INTO rowcost.requests ({','.join(written)}) VALUES {','.join(values)}")
        before, began = database_cpu_ticks(), time.time()
        for n, statement in enumerate(statements):
            cur.execute(statement)
            if n % STATEMENTS_PER_COMMIT == STATEMENTS_PER_COMMIT - 1:
                conn.commit()
        conn.commit()
        cpu_us = (database_cpu_ticks() - before) * 1e6 / ticks_per_second
        elapsed = time.time() - began
        cur.execute("SELECT COUNT(*) FROM rowcost.requests")
        if cur.fetchone()[0] != rows:
            sys.exit(f"row-cost: {variant} stored a different number of rows than {rows}")
        for name in os.listdir(scratch):
            os.remove(os.path.join(scratch, name))
        cur.execute("ANALYZE TABLE rowcost.requests")
        cur.fetchall()
        cur.execute(
            "SELECT data_length FROM information_schema.tables "
            "WHERE table_schema = 'rowcost' AND table_name = 'requests'"
        )
        data_bytes = cur.fetchone()[0]
        print(
            f"{variant}: {rows} rows, MariaDB {cpu_us / rows:.1f} µs per row, {rows / elapsed:.0f} rows/s, "
            f"{data_bytes / rows:.0f} bytes of data a row"
        )
    cur.execute("DROP DATABASE rowcost")
    os.rmdir(scratch)


if __name__ == "__main__":
    main()
