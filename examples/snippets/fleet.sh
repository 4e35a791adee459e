backstop simulate fleet --policy examples/fleet.toml --workers 200 --outage 5m --capacity 2 --protection off,both --html "${TMPDIR:-/tmp}/fleet.html"
#   200 workers, outage 5m, then 2 calls per 1s (latency 100ms, starts spread over 1s, rerun after 30s, breaker/budget per worker), 35m simulated, seed 1
#   jitter        protection  calls  wasted  in outage  peak/10s  after  recovered  median     p95     max
#   none          off          8768    8568       2800       800    412    200/200  11m37s  26m11s  28m41s
#   full          off          5727    5527       4947       978    127    200/200   49.3s   1m41s   1m58s
#   equal         off          4103    3903       3554       814     92    200/200     50s   1m46s    2m5s
#   decorrelated  off          5011    4811       4399       720    124    200/200   49.4s   1m44s    2m7s
#   additive      off          3162    2962       2627       800    120    200/200    1m1s   2m28s    3m1s
#   none          both         6226    6120       1800       800    200    106/200  14m18s  27m19s  29m19s
#   full          both         2937    2737       1800       948    136    200/200    4m9s   12m8s  15m10s
#   equal         both         3788    3588       1800       814    191    200/200   8m12s  21m14s  26m15s
#   decorrelated  both         2284    2084       1799       710     88    200/200   1m19s   5m10s   6m13s
#   additive      both         4899    4727       1800       800    199    172/200  11m19s  27m21s  29m21s
#   peak: most calls in one 10s; after: the same from the end of the outage on; recovery: from the end of the outage to the worker's first successful call
