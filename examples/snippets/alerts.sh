backstop alerts simulate --policy examples/seed-alerts.json --history examples/nightly-history.jsonl
#   2024-01-04T02:04:00Z  trigger  info  rule-1 -> mlops-room  [info] nightly-retrain/train run nightly-2024-01-04 failed: botocore.exceptions.ClientError ...
#   2024-01-04T02:06:00Z  resolve  info  rule-1 -> mlops-room  [resolved] nightly-retrain/train run nightly-2024-01-04 recovered (rule-1)
#   ...
#   2024-01-15T02:03:05Z  trigger  high  rule-2 -> oncall      [high] ... nightly-2024-01-15 failed: pyarrow.lib.ArrowInvalid (rule-2; 1 failed attempt(s), 3 failed run(s) in a row)
#   2024-01-15T02:18:05Z  escalate high  rule-2 -> oncall      ...
#   summary: notifications 20, pages (high/critical) 4, infos 7, resolved 9, suppressed 3 (duplicate 3), time paged 1d1h31m55s
backstop alerts simulate --policy examples/seed-alerts.json --history examples/nightly-history.jsonl --compare examples/nightly-alerts.toml --json
backstop alerts list            # what is firing, from the state database
backstop alerts tick --policy examples/nightly-alerts.toml   # for cron: fire due escalations
