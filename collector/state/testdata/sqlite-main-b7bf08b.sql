-- The state schema as main (b7bf08b) leaves a SQLite file: its schema
-- constant, then its two ad-hoc migrations (migrateAudit, migrateNflog).
CREATE TABLE IF NOT EXISTS graphs (key TEXT PRIMARY KEY, target TEXT NOT NULL, graph TEXT NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS graph_history (id INTEGER PRIMARY KEY, key TEXT NOT NULL, target TEXT NOT NULL, graph TEXT NOT NULL, since_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS graph_history_target ON graph_history(target, since_ms);
CREATE TABLE IF NOT EXISTS drift (id INTEGER PRIMARY KEY, target TEXT NOT NULL, sector TEXT NOT NULL, layer TEXT NOT NULL, agent TEXT NOT NULL,
	vantage TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,
	first_seen_ms INTEGER NOT NULL, evidence TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS drift_target ON drift(target, first_seen_ms);
CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS drills (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS playbook_runs (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notification_log (receiver TEXT NOT NULL, group_key TEXT NOT NULL, firing_hash BLOB NOT NULL, resolved_hash BLOB NOT NULL,
	sent_ms INTEGER NOT NULL, since_ms INTEGER NOT NULL, thread TEXT NOT NULL, PRIMARY KEY (receiver, group_key));
ALTER TABLE audit ADD COLUMN prev TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
ALTER TABLE notification_log ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
