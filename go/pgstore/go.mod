module github.com/backstop-policy/backstop/go/pgstore

go 1.26

require (
	github.com/backstop-policy/backstop/go v0.0.0
	github.com/jackc/pgx/v5 v5.13.0
	github.com/tetratelabs/wazero v1.12.0
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

// Developed in step with the core in this repository; a release tags both
// and pins the core's version here instead.
replace github.com/backstop-policy/backstop/go => ../
