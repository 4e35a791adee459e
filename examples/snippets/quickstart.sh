cargo install --path host   # puts backstop in ~/.cargo/bin; or: cargo build --release -p backstop, then target/release/backstop

backstop check --policy examples/storage-read.toml
backstop classify --http-status 503
#   transient (rule builtin.http-transient)
#     HTTP status 503 matched rule `builtin.http-transient`
backstop classify --policy examples/storage-read.toml --error-code NoSuchKey --json
#   {"class":"permanent","rule":"missing-partition","reason":"the input partition does not exist yet"}

backstop plan --policy examples/storage-read.toml --run-id nightly-2024-01-01 --step extract
backstop run  --policy examples/nightly.toml --run-id nightly-2024-01-01 --step train -- examples/flaky-step.sh 2
backstop stats --metrics backstop.prom   # e.g. into node_exporter's textfile directory
