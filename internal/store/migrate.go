package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Schema is the tables of one owner package: its steps, applied in order,
// each written for both engines. A step, once released, never changes; a
// change is a new step at the end.
type Schema struct {
	Name  string // the owner: "local", "audit", "records"
	Steps []Step
}

// Step is one migration in each engine's SQL (statements separated by ;).
type Step struct {
	SQLite   string
	Postgres string
}

// legacy: before schemas were versioned per owner, SQLite's user_version
// counted the steps of one list shared by these owners; step n of that list
// was step n of each of theirs.
var legacy = []string{"local", "audit", "records"}

const legacySteps = 2

// laterSchema is PRAGMA user_version once an owner's schema has moved past
// what a build from before per-owner versions knows, so such a build refuses
// the file instead of using tables it does not understand.
const laterSchema = 100

const versionTable = `keyward_schema`

// migrate brings every schema up to date inside one transaction that holds
// the database's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
// advisory lock), so replicas starting at once migrate one after the other:
// the first does the work, the others find it done.
func (s *Store) migrate(ctx context.Context, schemas []Schema) error {
	seen := map[string]bool{}
	for _, sc := range schemas {
		if sc.Name == "" || seen[sc.Name] {
			return fmt.Errorf("schema %q is empty or given twice", sc.Name)
		}
		seen[sc.Name] = true
	}
	return s.Tx(ctx, func(tx *sql.Tx) error {
		if s.engine == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey("migrate")); err != nil {
				return err
			}
		}
		versions, err := s.versions(ctx, tx)
		if err != nil {
			return err
		}
		known := map[string]int{}
		for _, sc := range schemas {
			known[sc.Name] = len(sc.Steps)
		}
		var newer []string
		for _, name := range slices.Sorted(maps.Keys(versions)) {
			v := versions[name]
			if n, ok := known[name]; ok && v > n {
				newer = append(newer, fmt.Sprintf("%s schema %d, this build knows %d", name, v, n))
			} else if !ok && !slices.Contains(legacy, name) && v > 0 && len(schemas) > 0 {
				newer = append(newer, fmt.Sprintf("%s schema %d, which this build does not know", name, v))
			}
		}
		if len(newer) > 0 {
			return fmt.Errorf("the database was written by a newer keyward (%s); upgrade keyward", strings.Join(newer, "; "))
		}
		for _, sc := range schemas {
			for i := versions[sc.Name]; i < len(sc.Steps); i++ {
				step := sc.Steps[i].SQLite
				if s.engine == Postgres {
					step = sc.Steps[i].Postgres
				}
				if _, err := tx.ExecContext(ctx, step); err != nil {
					return fmt.Errorf("%s schema step %d: %w", sc.Name, i+1, err)
				}
			}
			if len(sc.Steps) > versions[sc.Name] {
				if _, err := tx.ExecContext(ctx, s.Q(`INSERT INTO `+versionTable+` (component, version) VALUES (?, ?)
					ON CONFLICT (component) DO UPDATE SET version = excluded.version`), sc.Name, len(sc.Steps)); err != nil {
					return err
				}
				versions[sc.Name] = len(sc.Steps)
			}
		}
		if s.engine == SQLite {
			uv := legacySteps
			for _, name := range legacy {
				if versions[name] > legacySteps {
					uv = laterSchema
				}
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", uv)); err != nil {
				return err
			}
		}
		return nil
	})
}

// versions reads each owner's schema version, creating the table that holds
// them (and, on SQLite, carrying over a file from before it).
func (s *Store) versions(ctx context.Context, tx *sql.Tx) (map[string]int, error) {
	create := `CREATE TABLE IF NOT EXISTS ` + versionTable + ` (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`
	if s.engine == SQLite {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, versionTable).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			var uv int
			if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&uv); err != nil {
				return nil, err
			}
			if uv > legacySteps {
				return nil, fmt.Errorf("the file was written by a newer keyward (schema %d, this build knows %d); upgrade keyward", uv, legacySteps)
			}
			if _, err := tx.ExecContext(ctx, create); err != nil {
				return nil, err
			}
			for _, name := range legacy {
				if uv == 0 {
					break
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO `+versionTable+` (component, version) VALUES (?, ?)`, name, uv); err != nil {
					return nil, err
				}
			}
		}
	} else if _, err := tx.ExecContext(ctx, create); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT component, version FROM `+versionTable)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name string
		var v int
		if err := rows.Scan(&name, &v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, rows.Err()
}

// Version is the schema version of one owner in the database (0: none).
func (s *Store) Version(ctx context.Context, name string) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, s.Q(`SELECT version FROM `+versionTable+` WHERE component = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, s.scrub(err)
}
