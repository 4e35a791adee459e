module github.com/backstop-policy/backstop/go/sqlitestore

go 1.26.0

require (
	github.com/backstop-policy/backstop/go v0.0.0
	github.com/ncruces/go-sqlite3 v0.37.0
	github.com/tetratelabs/wazero v1.12.0
)

require (
	github.com/ncruces/go-sqlite3-wasm/v6 v6.5.35401 // indirect
	github.com/ncruces/julianday v1.0.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

// Developed in step with the core in this repository; a release tags both
// and pins the core's version here instead.
replace github.com/backstop-policy/backstop/go => ../
