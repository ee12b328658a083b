#!/usr/bin/env bash
# Benchmarks of reckon (issues #3, #4, #7). Run from anywhere: bash bench/run.sh
#
# Measures, one after another (never two at once), wall time and peak RSS (/usr/bin/time -v):
#   (a) io         the I/O floor: reckon reads every input table and writes outputs of exactly
#                  the size of (c)'s (the files of (c)'s output, read beforehand untimed), no
#                  rules (`reckon bench io --like`); also the older floor that writes the inputs
#                  back (`reckon bench io`)
#   (b) duckdb     DuckDB prices the API gateway call rows with a window query (tier split and
#                  amounts) on the same Parquet and writes bill lines (bench/duckdb_tiers.py)
#   (c) full       reckon's whole job (`reckon run`) at FULL_ROWS, THREADS and 1 thread, in
#                  PAIRS interleaved pairs
#   (d) pricing    reckon's pricing stage alone on the same rows as (b) (`reckon bench pricing`),
#                  THREADS and 1 thread
#   (e) deduction  reckon's deduction stage alone (`reckon bench deduction`)
#   (f) reconcile  `reckon reconcile` of an issued table (the run's bill lines renamed, a few
#                  changed or left out: bench/duckdb_reconcile.py prepare) against the run's
#                  output, THREADS threads; and DuckDB doing the same comparison (sums per key,
#                  FULL OUTER JOIN, statuses, partitioned write: duckdb_reconcile.py join)
# and prints a table with rows/s, peak RSS and the ratios (c)/(a), (d)/(b), 1 vs THREADS threads.
#
# Settings (environment):
#   ROWS=20000000      usage rows for (a) (b) (d) (e)   (≈127 rows per account and day)
#   FULL_ROWS=$ROWS    usage rows for (c) and the (a) it is compared with
#   DAYS=120           days of usage
#   THREADS=2          threads of the multi-threaded runs (reckon --threads, POLARS_MAX_THREADS,
#                      DuckDB threads)
#   PAIRS=5            pairs of (c) runs (THREADS, 1 thread); the table gives medians
#   SKIP=""            steps to leave out, e.g. SKIP="c" or SKIP="b c"
#   BIN=…              a reckon binary to use instead of building target/release/reckon
# Data is generated once per size under bench/data/ (gitignored); results go to
# bench/results/<ROWS>/ (gitignored): one .time, .out and .err file per step, table.md.
set -euo pipefail

ROWS=${ROWS:-20000000}
FULL_ROWS=${FULL_ROWS:-$ROWS}
DAYS=${DAYS:-120}
THREADS=${THREADS:-2}
PAIRS=${PAIRS:-5}
SKIP=${SKIP:-}
ROWS_PER_ACCOUNT_DAY=127

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${BIN:-$root/target/release/reckon}
catalog=$root/sample_data/catalog.toml
res=$here/results/$ROWS
mkdir -p "$res"

skip() { [[ " $SKIP " == *" $1 "* ]]; }

if [[ -z ${BIN:-} ]]; then
  echo "== building reckon (release)" >&2
  (cd "$root" && cargo build --release --quiet)
fi

if ! skip b || ! skip f; then
  if [[ ! -x $here/.venv/bin/python ]] || ! "$here/.venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    echo "== installing duckdb into bench/.venv" >&2
    python3 -m venv "$here/.venv"
    "$here/.venv/bin/pip" install --quiet duckdb
  fi
fi

# Generates (once) a dataset of about $1 usage rows; prints its directory.
dataset() {
  local rows=$1
  local accounts=$(( (rows + DAYS * ROWS_PER_ACCOUNT_DAY - 1) / (DAYS * ROWS_PER_ACCOUNT_DAY) ))
  local dir=$here/data/a$accounts-d$DAYS
  if [[ ! -f $dir/.done ]]; then
    echo "== generating $accounts accounts x $DAYS days into $dir" >&2
    rm -rf "$dir"
    "$bin" generate --accounts "$accounts" --days "$DAYS" --output "$dir" >&2
    touch "$dir/.done"
  fi
  echo "$dir"
}

# measure NAME CMD...: runs CMD under /usr/bin/time -v, output dir $res/NAME.dir (fresh).
measure() {
  local name=$1; shift
  echo "== $name: $*" >&2
  rm -rf "$res/$name.dir"
  /usr/bin/time -v -o "$res/$name.time" "$@" >"$res/$name.out" 2>"$res/$name.err" || {
    echo "!! $name failed, see $res/$name.err" >&2; tail -5 "$res/$name.err" >&2; return 1; }
}

data=$(dataset "$ROWS")
full_data=$(dataset "$FULL_ROWS")

skip b || measure duckdb "$here/.venv/bin/python" "$here/duckdb_tiers.py" "$data/usage" \
  "$res/duckdb.dir" "$THREADS"
# (c) in PAIRS pairs of runs, THREADS and 1 thread, the order flipped from one pair to the next:
# the VM's speed drifts by tens of percent within minutes, so the ratio is taken within each
# pair and the table gives the median. The first pair's output is (a)'s reference.
full_run() {  # full_run PAIR THREADS
  local name=full_p$1; [[ $2 == 1 ]] && name=full_1t_p$1
  POLARS_MAX_THREADS=$2 measure "$name" "$bin" run --input "$full_data" --catalog "$catalog" \
    --output "$res/$name.dir" --threads "$2"
  [[ $name == full_p1 ]] || rm -rf "$res/$name.dir" "$res/.$name.dir.reckon"
}
skip c || {
  rm -f "$res"/full*.time
  for pair in $(seq 1 "$PAIRS"); do
    if (( pair % 2 )); then full_run "$pair" "$THREADS"; full_run "$pair" 1
    else full_run "$pair" 1; full_run "$pair" "$THREADS"; fi
  done
  rm -rf "$res/full.dir"; mv "$res/full_p1.dir" "$res/full.dir"
}
skip a || {
  measure io_inputs "$bin" bench io --input "$data" --catalog "$catalog" --output "$res/io_inputs.dir"
  if [[ -d $res/full.dir ]]; then
    measure io_full "$bin" bench io --input "$full_data" --catalog "$catalog" \
      --output "$res/io_full.dir" --like "$res/full.dir"
  fi
}
# (f) on (c)'s output (run once here when (c) is skipped).
skip f || {
  if [[ ! -d $res/full.dir ]]; then
    measure full "$bin" run --input "$full_data" --catalog "$catalog" --output "$res/full.dir"
  fi
  rm -rf "$res/issued"
  "$here/.venv/bin/python" "$here/duckdb_reconcile.py" prepare "$res/full.dir" "$res/issued"
  # Exit 1 (keys mismatched, as planted) is the expected outcome, not a failure.
  POLARS_MAX_THREADS=$THREADS RAYON_NUM_THREADS=$THREADS measure reconcile \
    sh -c '"$@" || [ $? -eq 1 ]' sh "$bin" -q reconcile \
    "$res/issued" "$res/full.dir" --output "$res/reconcile.dir" --catalog "$catalog"
  measure reconcile_duckdb "$here/.venv/bin/python" "$here/duckdb_reconcile.py" join \
    "$res/issued" "$res/full.dir" "$res/reconcile_duckdb.dir" "$THREADS"
  grep -o '"issued_lines": [0-9]*\|"recomputed_lines": [0-9]*' "$res/reconcile.dir/_manifest.json" \
    | tr -d '"' >"$res/reconcile.lines"
  rm -rf "$res/issued"
}
skip d || {
  POLARS_MAX_THREADS=$THREADS measure pricing "$bin" bench pricing --input "$data" \
    --catalog "$catalog" --output "$res/pricing.dir" --threads "$THREADS"
  POLARS_MAX_THREADS=1 measure pricing_1t "$bin" bench pricing --input "$data" \
    --catalog "$catalog" --output "$res/pricing_1t.dir" --threads 1
}
# (b) and (d) must agree: per tier, the same parts, quantities and amounts.
if ! skip b && ! skip d; then
  "$here/.venv/bin/python" - "$res/duckdb.dir" "$res/pricing.dir" <<'EOF' | tee "$res/check.txt"
import duckdb, sys
q = ("select tier, count(*), sum(billable_quantity), sum(amount) from read_parquet('{}') "
     "group by 1 order by 1")
a = duckdb.sql(q.format(sys.argv[1])).fetchall()
b = duckdb.sql(q.format(sys.argv[2] + "/bill_lines/**/*.parquet")).fetchall()
print("check (b) = (d), parts/quantity/amount per tier:", "same" if a == b else f"DIFFERENT {a} {b}")
EOF
fi
rm -rf "$res"/*.dir "$res"/.*.reckon

skip e || POLARS_MAX_THREADS=$THREADS measure deduction "$bin" bench deduction --input "$data" \
  --catalog "$catalog" --output "$res/deduction.dir" --threads "$THREADS"
rm -rf "$res"/*.dir "$res"/.*.reckon

# ---- the table -----------------------------------------------------------------------------
python3 - "$res" "$THREADS" <<'EOF' | tee "$res/table.md"
import json, os, re, sys
res, threads = sys.argv[1], sys.argv[2]

def time_v(name):
    p = os.path.join(res, name + ".time")
    if not os.path.exists(p):
        return None
    t = open(p).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", t).group(1).strip()
    secs = 0.0
    for part in wall.split(":"):
        secs = secs * 60 + float(part)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
    return secs, rss / 1024

def figures(name):
    p = os.path.join(res, name + ".out")
    for line in open(p).read().splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    return {}

def full_rows(name):
    err = open(os.path.join(res, name + ".err")).read()
    m = re.search(r"(\d+) usage rows read", err) or re.search(r"\bread=(\d+)", err)
    return int(m.group(1)) if m else None

rows = []
def add(label, name, n, stage_ms=None, discount=0.0):
    tv = time_v(name)
    if tv is None:
        return None
    wall, rss = tv
    wall -= discount  # time spent reading a reference, not part of the measure
    rows.append((label, n, wall, n / wall if n else None,
                 stage_ms / 1000 if stage_ms else None,
                 n / (stage_ms / 1000) if stage_ms and n else None, rss))
    return wall, n

r = {}
if time_v("io_inputs"):
    f = figures("io_inputs"); add("(a') read inputs, write them back", "io_inputs", f["rows"])
if time_v("io_full"):
    f = figures("io_full")
    r["a_full"] = add("(a) io floor: read inputs, write outputs of (c)'s size", "io_full", f["rows"],
                      discount=f.get("reference_ms", 0) / 1000)
calls = figures("pricing").get("rows") if os.path.exists(os.path.join(res, "pricing.out")) else None
if time_v("duckdb"):
    r["b"] = add("(b) DuckDB tier split + amounts (call rows)", "duckdb", calls or 0)
pairs = []
while time_v(f"full_p{len(pairs) + 1}") and time_v(f"full_1t_p{len(pairs) + 1}"):
    k = len(pairs) + 1
    pairs.append((f"full_p{k}", f"full_1t_p{k}"))
def median(xs):
    xs = sorted(xs)
    return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2
if pairs:
    # The run of median wall time stands for its thread count in the table.
    for i, label in ((0, f"(c) reckon run, {threads} threads"), (1, "(c) reckon run, 1 thread")):
        names = sorted((p[i] for p in pairs), key=lambda n: time_v(n)[0])
        name = names[(len(names) - 1) // 2]
        key = "c" if i == 0 else "c1"
        r[key] = add(f"{label}, median of {len(pairs)}", name, full_rows(name))
    walls = [(time_v(many)[0], time_v(one)[0]) for many, one in pairs]
if time_v("pricing"):
    f = figures("pricing"); r["d"] = add(f"(d) reckon pricing stage, {threads} threads (call rows)", "pricing", f["rows"], f["stage_ms"])
    f = figures("pricing_1t"); r["d1"] = add("(d) reckon pricing stage, 1 thread (call rows)", "pricing_1t", f["rows"], f["stage_ms"])
if time_v("reconcile") and time_v("reconcile_duckdb"):
    n = sum(int(l.split(":")[1]) for l in open(os.path.join(res, "reconcile.lines")))
    r["f"] = add(f"(f) reckon reconcile, {threads} threads (issued + recomputed lines)", "reconcile", n)
    r["g"] = add(f"(f) DuckDB sums per key + FULL OUTER JOIN, {threads} threads", "reconcile_duckdb", n)
if time_v("deduction"):
    f = figures("deduction"); r["e"] = add(f"(e) reckon deduction stage, {threads} threads", "deduction", f["rows"], f["stage_ms"])

fmt = lambda v, p="{:,.0f}": "" if v is None else p.format(v)
print("| step | rows | wall s | rows/s (wall) | stage s | rows/s (stage) | peak RSS MB |")
print("|---|---:|---:|---:|---:|---:|---:|")
for label, n, wall, rps, st, srps, rss in rows:
    print(f"| {label} | {fmt(n)} | {wall:.1f} | {fmt(rps)} | {fmt(st, '{:.1f}')} | {fmt(srps)} | {rss:,.0f} |")
print()
def per_row(x):
    return x[0] / x[1]
if r.get("c") and r.get("a_full"):
    print(f"- (c)/(a) at {r['c'][1]:,} rows, wall time per row: {per_row(r['c']) / per_row(r['a_full']):.1f}x"
          " ((a) excludes reading (c)'s files, which it writes)")
if r.get("d") and r.get("b"):
    print(f"- (d)/(b) on the same {r['d'][1]:,} call rows, wall: {r['d'][0] / r['b'][0]:.1f}x")
if pairs:
    shown = ", ".join(f"{one:.1f}/{many:.1f} s = {one / many:.2f}x" for many, one in walls)
    ratio = median([one / many for many, one in walls])
    print(f"- (c) 1 thread / {threads} threads, wall: median {ratio:.2f}x over "
          f"{len(pairs)} pairs run back to back ({shown})")
if r.get("f") and r.get("g"):
    print(f"- (f) reckon reconcile / DuckDB join on the same {r['f'][1]:,} lines, wall: {r['f'][0] / r['g'][0]:.2f}x")
if r.get("d1") and r.get("d"):
    print(f"- (d) 1 thread / {threads} threads, wall: {r['d1'][0] / r['d'][0]:.2f}x")
EOF
