cargo run --release -p backstop -- run --policy examples/nightly.toml --run-id "demo-$(date +%s)" --step train -- examples/flaky-step.sh 2
