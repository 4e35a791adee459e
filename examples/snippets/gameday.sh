backstop gameday --scenario examples/gameday/storage-read.toml
#   game day: storage-read (examples/gameday/storage-read.toml)
#     503 and SlowDown are retried, a 404 is not, a hung read is cut at the attempt timeout
#   time compressed x100: retry.base_delay 1s -> 10ms, retry.max_delay 20s -> 200ms, retry.max_pushback 5m -> 3s, retry.attempt_timeout 1m -> 600ms, retry.deadline 6m -> 3.6s; lease 300ms
#     not compressed: the step's own run time; alert windows (dedup_window, escalate_after: they act in `alerts tick`)
#   run 1 (features-503): succeeded, 3 attempt(s) [transient, transient, success], exit 0, recovered in 153ms (<= 15.3s at policy speed)
#   run 2 (features-404): gave-up, 1 attempt(s) [permanent], exit 1
#   run 3 (features-hang): succeeded, 2 attempt(s) [transient, success], exit 0, recovered in 700ms (<= 1m10s at policy speed)
#
#   run  expectation    expected                               actual                                 ok
#   1    outcome        succeeded                              succeeded                              ok
#   1    attempts       3                                      3                                      ok
#   1    classes        transient, transient, success          transient, transient, success          ok
#   1    rules          storage-5xx, builtin.cloud-throttling  storage-5xx, builtin.cloud-throttling  ok
#   1    exit_status    0                                      0                                      ok
#   1    notifications  none                                   none                                   ok
#   1    pages          0                                      0                                      ok
#   1    max_recovery   <= 1m                                  15.3s (rehearsed in 153ms)             ok
#   2    outcome        gave-up                                gave-up                                ok
#   2    attempts       1                                      1                                      ok
#   2    classes        permanent                              permanent                              ok
#   2    rules          missing-partition                      missing-partition                      ok
#   2    give_up        permanent                              permanent                              ok
#   2    exit_status    1                                      1                                      ok
#   3    outcome        succeeded                              succeeded                              ok
#   3    attempts       2                                      2                                      ok
#   3    classes        transient, success                     transient, success                     ok
#   3    rules          builtin.attempt-timeout                builtin.attempt-timeout                ok
#   3    exit_status    0                                      0                                      ok
#   3    max_recovery   <= 2m                                  1m10s (rehearsed in 700ms)             ok
#
#   PASS: 20 expectation(s) met
