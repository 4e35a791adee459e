backstop stats --since 2024-01-01 --until 2024-01-29 --by week --pipeline nightly --html stats.html
#   runs started from 2024-01-01T00:00:00Z to 2024-01-29T00:00:00Z, by week (Monday 00:00 UTC)
#   pipeline  step   week        runs  ok  gave up  success  retries  per run  TTR median  TTR p95  TTR max  pages  infos  give-ups
#   nightly   train  2024-01-01     7   7        0   100.0%        3     0.43       1m30s       3m       3m      0      2  -
#   nightly   train  2024-01-08     7   6        1    85.7%        4     0.57       1m30s    4m30s    4m30s      1      2  permanent 1
#   nightly   train  2024-01-15     7   5        2    71.4%        9     1.29          3m       3m       3m      2      3  attempts-exhausted 2
#   nightly   train  2024-01-22     7   7        0   100.0%        1     0.14       1m30s    1m30s    1m30s      0      1  -
#   nightly   train  total         28  25        3    89.3%       17     0.61       1m30s    4m30s    4m30s      3      8  attempts-exhausted 2, permanent 1
#   TTR: time to recovery, from the end of a run's first failed attempt to the end of its success (median and p95 nearest-rank); pages and infos are the pipeline's
