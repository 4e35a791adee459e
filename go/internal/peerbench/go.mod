module github.com/backstop-policy/backstop/go/internal/peerbench

go 1.26

require (
	github.com/backstop-policy/backstop/go v0.0.0
	github.com/cenkalti/backoff/v4 v4.3.0
	github.com/cenkalti/backoff/v5 v5.0.3
)

require (
	github.com/tetratelabs/wazero v1.12.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
)

replace github.com/backstop-policy/backstop/go => ../..
