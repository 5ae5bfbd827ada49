package local

import "github.com/keyward/keyward/internal/store"

// Schema is the local authority's tables, for store.Open. Steps 1 and 2 are
// those of the single list SQLite files had before schemas were versioned
// per owner.
var Schema = store.Schema{Name: "local", Steps: []store.Step{
	{
		SQLite: `CREATE TABLE local_keys (
			id           TEXT PRIMARY KEY,
			name         TEXT NOT NULL,
			scopes       TEXT NOT NULL,         -- space-separated
			start        TEXT NOT NULL,         -- visible beginning of the current secret
			last4        TEXT NOT NULL,
			active       INTEGER NOT NULL DEFAULT 1,
			created_at   INTEGER NOT NULL,      -- unix milliseconds
			expires_at   INTEGER,
			last_used_at INTEGER,
			revoked_at   INTEGER,
			updated_at   INTEGER NOT NULL
		);
		CREATE TABLE local_secrets (
			hash        TEXT PRIMARY KEY,       -- SHA-256 of the secret; the secret itself is never stored
			key_id      TEXT NOT NULL REFERENCES local_keys(id) ON DELETE CASCADE,
			created_at  INTEGER NOT NULL,
			valid_until INTEGER                 -- set when rotated away: the end of its grace
		);
		CREATE INDEX local_secrets_key ON local_secrets(key_id);`,
		Postgres: `CREATE TABLE local_keys (
			id           TEXT PRIMARY KEY,
			name         TEXT NOT NULL,
			scopes       TEXT NOT NULL,
			start        TEXT NOT NULL,
			last4        TEXT NOT NULL,
			active       BOOLEAN NOT NULL DEFAULT TRUE,
			created_at   BIGINT NOT NULL,
			expires_at   BIGINT,
			last_used_at BIGINT,
			revoked_at   BIGINT,
			updated_at   BIGINT NOT NULL
		);
		CREATE TABLE local_secrets (
			hash        TEXT PRIMARY KEY,
			key_id      TEXT NOT NULL REFERENCES local_keys(id) ON DELETE CASCADE,
			created_at  BIGINT NOT NULL,
			valid_until BIGINT
		);
		CREATE INDEX local_secrets_key ON local_secrets(key_id);`,
	},
	// 2: the request id of the create that made a key, so an interrupted
	// create can be found and undone.
	{
		SQLite: `ALTER TABLE local_keys ADD COLUMN request_id TEXT;
		CREATE UNIQUE INDEX local_keys_request ON local_keys(request_id) WHERE request_id IS NOT NULL;`,
		Postgres: `ALTER TABLE local_keys ADD COLUMN request_id TEXT;
		CREATE UNIQUE INDEX local_keys_request ON local_keys(request_id) WHERE request_id IS NOT NULL;`,
	},
	// 3: a change counter, so every process sharing the state keeps an exact
	// copy of what validation needs. Every write that changes a validation's
	// answer takes the next seq (the one row of local_meta, locked until
	// commit, so seqs follow commit order) and stamps the keys it changed;
	// a purge, which deletes, also sets reset_seq. A reader that has applied
	// everything up to seq S catches up with the keys stamped above S.
	{
		SQLite: `ALTER TABLE local_keys ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
		CREATE INDEX local_keys_change ON local_keys(change_seq);
		CREATE TABLE local_meta (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, reset_seq INTEGER NOT NULL);
		INSERT INTO local_meta (id, seq, reset_seq) VALUES (1, 0, 0);`,
		Postgres: `ALTER TABLE local_keys ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
		CREATE INDEX local_keys_change ON local_keys(change_seq);
		CREATE TABLE local_meta (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, reset_seq BIGINT NOT NULL);
		INSERT INTO local_meta (id, seq, reset_seq) VALUES (1, 0, 0);`,
	},
}}
