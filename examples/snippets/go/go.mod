module example.com/nightly

go 1.26

require github.com/backstop-policy/backstop/go v0.0.0

require (
	github.com/tetratelabs/wazero v1.12.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
)

// Not published: build against a checkout (this path is the repository's go/).
replace github.com/backstop-policy/backstop/go => ../../../go
