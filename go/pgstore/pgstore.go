// Package pgstore keeps Backstop's shared circuit breaker and retry budget in
// PostgreSQL (pgx v5), on the table the backstop CLI uses
// (backstop.shared_state, one row per dependency), so Go, Python and Node
// workers and `backstop run --state postgresql://... --step NAME` on any
// number of machines trip one breaker for one dependency.
//
//	store, err := pgstore.Open(ctx, os.Getenv("DATABASE_URL"))
//	...
//	defer store.Close()
//	dep, err := store.Dependency("feature-store") // the CLI's --step
//	...
//	err = backstop.Do(ctx, policy, fetch, backstop.WithSharedState(dep))
//
// It is a module of its own so that the core module does not make its users
// download pgx.
package pgstore

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	backstop "github.com/backstop-policy/backstop/go"
)

// SchemaVersion is the version of the CLI's schema this package understands
// (PostgreSQL's first is 3). A database with a newer one is refused.
const SchemaVersion = 3

// migrationLock is the CLI's transaction-scoped advisory lock ("backstop")
// under which the schema is created once when many open a new database.
const migrationLock int64 = 0x6261_636b_7374_6f70

// maxKeyBytes is the CLI's limit on a step name.
const maxKeyBytes = 256

// schemaV3 is the CLI's DDL, byte for byte (a test compares it).
//
//go:embed schema_v3.sql
var schemaV3 string

// Errors a store's failures wrap (test with errors.Is).
var (
	// ErrUnavailable: the database could not be reached or dropped the connection.
	ErrUnavailable = errors.New("the database is unavailable")
	// ErrLocked: the dependency's row stayed locked past the lock timeout.
	ErrLocked = errors.New("the row stayed locked past the lock timeout")
	// ErrSchema: the database holds a schema this package cannot use.
	ErrSchema = errors.New("the database's backstop schema cannot be used")
	// ErrInvalidState: a stored state is not a valid SharedState.
	ErrInvalidState = errors.New("the stored shared state is not valid")
)

const (
	selectSQL = "SELECT state FROM backstop.shared_state WHERE step = $1 FOR UPDATE"
	// A row lock needs a row: two workers creating a step's first state must
	// not both read "none" and overwrite each other (as the CLI does).
	insertSQL  = "INSERT INTO backstop.shared_state (step, state, updated_at_ms) VALUES ($1, $2, 0) ON CONFLICT (step) DO NOTHING"
	saveSQL    = "UPDATE backstop.shared_state SET state = $1, updated_at_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint WHERE step = $2"
	inspectSQL = `SELECT (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'backstop'),
	to_regclass('backstop.schema_version')::text, to_regclass('backstop.shared_state')::text`
)

// Store is a connection pool's view of the shared-state table. Safe for
// concurrent use; get one SharedStore per dependency with Dependency.
type Store struct {
	pool        *pgxpool.Pool
	owned       bool
	lockTimeout time.Duration
	target      string
	secrets     []string

	mu      sync.Mutex
	checked bool
}

// Option configures a Store.
type Option func(*Store)

// WithLockTimeout bounds how long an update waits for a row another
// transaction holds (default 5s); past it the update fails with ErrLocked.
func WithLockTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.lockTimeout = d
		}
	}
}

// Open connects a pool to connString (a postgres:// URL or key=value
// string) and checks the schema (see New). Close the Store to close the pool.
func Open(ctx context.Context, connString string, opts ...Option) (*Store, error) {
	secrets := passwords(connString)
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("pgstore: not a valid PostgreSQL connection string: %s", scrub(err.Error(), secrets))
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "backstop-go"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %s", scrub(err.Error(), secrets))
	}
	s, err := newStore(ctx, pool, true, secrets, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// New uses a pool the caller owns (and closes). It checks the schema: it
// creates the CLI's schema (version 3) in a database that has none, under
// the CLI's advisory lock, and refuses a newer version or a "backstop"
// schema that is not Backstop's (ErrSchema).
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New needs a pool")
	}
	return newStore(ctx, pool, false, passwords(pool.Config().ConnString()), opts)
}

func newStore(ctx context.Context, pool *pgxpool.Pool, owned bool, secrets []string, opts []Option) (*Store, error) {
	cc := pool.Config().ConnConfig
	s := &Store{
		pool:        pool,
		owned:       owned,
		lockTimeout: 5 * time.Second,
		target:      fmt.Sprintf("%s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database),
		secrets:     secrets,
	}
	for _, opt := range opts {
		opt(s)
	}
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the pool if Open made it.
func (s *Store) Close() {
	if s.owned {
		s.pool.Close()
	}
}

// Dependency is the SharedStore of one dependency: the row keyed by name,
// which is what `backstop run --step` names. name follows the CLI's rule:
// not blank, at most 256 bytes of UTF-8, no control characters.
func (s *Store) Dependency(name string) (*Dependency, error) {
	if err := CheckKey(name); err != nil {
		return nil, err
	}
	return &Dependency{store: s, key: name}, nil
}

// CheckKey applies the CLI's rule for a step name.
func CheckKey(name string) error {
	switch {
	case !utf8.ValidString(name):
		return errors.New("pgstore: the dependency name is not valid UTF-8")
	case strings.TrimSpace(name) == "":
		return errors.New("pgstore: the dependency name is blank; give a non-empty name (the CLI's --step)")
	case len(name) > maxKeyBytes:
		return fmt.Errorf("pgstore: the dependency name is %d bytes; the limit is %d bytes", len(name), maxKeyBytes)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("pgstore: the dependency name contains the control character U+%04X; use printable characters", r)
		}
	}
	return nil
}

// Dependency is a backstop.SharedStore (with an atomic Update) for one
// dependency. Safe for concurrent use.
type Dependency struct {
	store *Store
	key   string
}

var _ backstop.SharedStore = (*Dependency)(nil)

// Name is the dependency's key.
func (d *Dependency) Name() string { return d.key }

// Load returns the stored state (fresh if there is none) without locking it.
func (d *Dependency) Load(ctx context.Context) (backstop.SharedState, error) {
	var text string
	err := d.store.pool.QueryRow(ctx, "SELECT state FROM backstop.shared_state WHERE step = $1", d.key).Scan(&text)
	if errors.Is(err, pgx.ErrNoRows) {
		return backstop.SharedState{}, nil
	}
	if err != nil {
		return backstop.SharedState{}, d.store.fail(ctx, "reading the shared state of "+quote(d.key), err)
	}
	return d.decode(text)
}

// Save replaces the stored state (e.g. to reset a breaker by hand).
func (d *Dependency) Save(ctx context.Context, st backstop.SharedState) error {
	return d.Update(ctx, func(backstop.SharedState) (backstop.SharedState, error) { return st, nil })
}

// Update applies fn to the state in one transaction holding the row's lock
// (SELECT ... FOR UPDATE), so concurrent workers on any machine never lose
// one another's outcomes. fn's error rolls back and is returned unchanged.
func (d *Dependency) Update(ctx context.Context, fn func(backstop.SharedState) (backstop.SharedState, error)) error {
	s := d.store
	what := "updating the shared state of " + quote(d.key)
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return s.fail(ctx, what, err)
	}
	// After a commit this does nothing; otherwise it ends the transaction
	// even if ctx is done.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", fmt.Sprintf("%dms", max(1, s.lockTimeout.Milliseconds()))); err != nil {
		return s.fail(ctx, what, err)
	}
	var text string
	err = tx.QueryRow(ctx, selectSQL, d.key).Scan(&text)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err = tx.Exec(ctx, insertSQL, d.key, freshJSON); err == nil {
			err = tx.QueryRow(ctx, selectSQL, d.key).Scan(&text)
		}
	}
	if err != nil {
		return s.fail(ctx, what, err)
	}
	current, err := d.decode(text)
	if err != nil {
		return err
	}
	next, err := fn(current)
	if err != nil {
		return err
	}
	encoded, err := EncodeState(next)
	if err != nil {
		return fmt.Errorf("pgstore: %s: %w", what, err)
	}
	if _, err := tx.Exec(ctx, saveSQL, encoded, d.key); err != nil {
		return s.fail(ctx, what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return s.fail(ctx, what, err)
	}
	return nil
}

func (d *Dependency) decode(text string) (backstop.SharedState, error) {
	st, err := DecodeState(text)
	if err != nil {
		return st, fmt.Errorf("pgstore: the shared state of %s in PostgreSQL (%s): %w: %v", quote(d.key), d.store.target, ErrInvalidState, err)
	}
	return st, nil
}

var freshJSON = func() string {
	text, err := EncodeState(backstop.SharedState{})
	if err != nil {
		panic(err)
	}
	return text
}()

// EncodeState is st exactly as the CLI stores it (serde_json's compact form).
func EncodeState(st backstop.SharedState) (string, error) {
	b, err := json.Marshal(st)
	return string(b), err
}

// DecodeState reads a stored state, refusing unknown fields as the CLI does;
// absent fields are zero.
func DecodeState(text string) (backstop.SharedState, error) {
	// (json would decode null to a zero struct; the CLI refuses anything but an object)
	if !bytes.HasPrefix(bytes.TrimSpace([]byte(text)), []byte("{")) {
		return backstop.SharedState{}, errors.New("not a JSON object")
	}
	var st backstop.SharedState
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return backstop.SharedState{}, err
	}
	if dec.More() {
		return backstop.SharedState{}, errors.New("trailing data after the JSON object")
	}
	return st, nil
}

// checkSchema creates the CLI's schema when the database has none and
// refuses one it cannot use; once per Store.
func (s *Store) checkSchema(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.checked {
		return nil
	}
	found, err := inspect(ctx, s.pool)
	if err != nil {
		return s.fail(ctx, "checking the schema", err)
	}
	if found == missing {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
				return err
			}
			// Again, under the lock: another worker or CLI may just have.
			if found, err = inspect(ctx, tx); err != nil || found != missing {
				return err
			}
			_, err := tx.Exec(ctx, createSQL())
			found = SchemaVersion
			return err
		})
		if err != nil {
			return s.fail(ctx, "creating the schema", err)
		}
	}
	switch {
	case found == foreign:
		return fmt.Errorf("pgstore: PostgreSQL (%s) has a schema \"backstop\" that is not Backstop's (tables but no schema_version, or no shared_state); use another database: %w", s.target, ErrSchema)
	case found > SchemaVersion:
		return fmt.Errorf("pgstore: PostgreSQL (%s) holds Backstop schema version %d, newer than version %d that this pgstore understands; upgrade pgstore: %w", s.target, found, SchemaVersion, ErrSchema)
	}
	s.checked = true
	return nil
}

const (
	missing = -1
	foreign = -2
)

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inspect returns missing, foreign or the schema version.
func inspect(ctx context.Context, q querier) (int64, error) {
	var tables int64
	var versionTable, sharedTable *string
	if err := q.QueryRow(ctx, inspectSQL).Scan(&tables, &versionTable, &sharedTable); err != nil {
		return 0, err
	}
	if versionTable == nil {
		if tables > 0 {
			return foreign, nil
		}
		return missing, nil
	}
	var version *int64
	if err := q.QueryRow(ctx, "SELECT max(version) FROM backstop.schema_version").Scan(&version); err != nil {
		return 0, err
	}
	if version == nil || sharedTable == nil {
		return foreign, nil
	}
	return *version, nil
}

// createSQL is the CLI's version-3 schema and its version row. Without
// arguments pgx runs it on the simple protocol, several statements at once.
func createSQL() string {
	return fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS backstop;\nSET LOCAL search_path TO backstop;\n%s\n"+
		"CREATE TABLE schema_version (version BIGINT NOT NULL);\nINSERT INTO schema_version VALUES (%d);\n",
		schemaV3, SchemaVersion)
}

// fail describes a database error without the connection string's password.
func (s *Store) fail(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return fmt.Errorf("pgstore: %s: %w", what, ctxErr)
	}
	msg := scrub(err.Error(), s.secrets)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "55P03":
			return fmt.Errorf("pgstore: %s in PostgreSQL (%s): %w (%v)", what, s.target, ErrLocked, s.lockTimeout)
		case strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "57P"), pgErr.Code == "53300":
		default:
			return fmt.Errorf("pgstore: %s in PostgreSQL (%s) failed: %s", what, s.target, msg)
		}
	}
	return fmt.Errorf("pgstore: %s in PostgreSQL (%s): %w: %s", what, s.target, ErrUnavailable, msg)
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

var (
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`)
	kvPassword  = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
)

// passwords are the secrets in a connection string: the string itself and
// its password, when it parses.
func passwords(connString string) []string {
	secrets := []string{connString}
	if cfg, err := pgconn.ParseConfig(connString); err == nil && len(cfg.Password) >= 3 {
		// (a shorter one would mangle every message it was scrubbed from)
		secrets = append(secrets, cfg.Password)
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	return secrets
}

func scrub(msg string, secrets []string) string {
	for _, secret := range secrets {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	msg = urlPassword.ReplaceAllString(msg, "${1}[redacted]@")
	return kvPassword.ReplaceAllString(msg, "${1}[redacted]")
}
