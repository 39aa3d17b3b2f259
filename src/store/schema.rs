//! Numbered migrations. Migration N brings the schema from version N-1 to N; the current
//! version is kept in SQLite's `user_version`. Migrations only ever append.

/// The migrations, in order. Index 0 is migration 1.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the identity model.
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE accounts (
    account_id         TEXT PRIMARY KEY,
    created_at         INTEGER NOT NULL,
    root_password_hash TEXT
) STRICT;

CREATE TABLE users (
    user_id      TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(account_id),
    name         TEXT NOT NULL,
    name_canon   TEXT NOT NULL,
    path         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    boundary_arn TEXT,
    UNIQUE (account_id, name_canon)
) STRICT;

CREATE TABLE groups (
    group_id   TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    name       TEXT NOT NULL,
    name_canon TEXT NOT NULL,
    path       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, name_canon)
) STRICT;

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(group_id),
    user_id  TEXT NOT NULL REFERENCES users(user_id),
    PRIMARY KEY (group_id, user_id)
) STRICT;
CREATE INDEX group_members_user ON group_members(user_id);

CREATE TABLE roles (
    role_id              TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts(account_id),
    name                 TEXT NOT NULL,
    name_canon           TEXT NOT NULL,
    path                 TEXT NOT NULL,
    trust_policy         TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    max_session_duration INTEGER NOT NULL,
    boundary_arn         TEXT,
    created_at           INTEGER NOT NULL,
    UNIQUE (account_id, name_canon)
) STRICT;

CREATE TABLE instance_profiles (
    profile_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    name       TEXT NOT NULL,
    name_canon TEXT NOT NULL,
    path       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    role_id    TEXT REFERENCES roles(role_id),
    UNIQUE (account_id, name_canon)
) STRICT;
CREATE INDEX instance_profiles_role ON instance_profiles(role_id);

CREATE TABLE tags (
    entity_kind TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    key_canon   TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (entity_kind, entity_id, key_canon)
) STRICT;

CREATE TABLE policies (
    policy_id       TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(account_id),
    name            TEXT NOT NULL,
    name_canon      TEXT NOT NULL,
    path            TEXT NOT NULL,
    arn             TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL DEFAULT '',
    default_version INTEGER NOT NULL,
    next_version    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (account_id, name_canon)
) STRICT;

CREATE TABLE policy_versions (
    policy_id  TEXT NOT NULL REFERENCES policies(policy_id),
    version    INTEGER NOT NULL,
    document   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (policy_id, version)
) STRICT;

CREATE TABLE attachments (
    principal_kind TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    policy_arn     TEXT NOT NULL,
    PRIMARY KEY (principal_kind, principal_id, policy_arn)
) STRICT;
CREATE INDEX attachments_policy ON attachments(policy_arn);

CREATE TABLE inline_policies (
    principal_kind TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    name           TEXT NOT NULL,
    name_canon     TEXT NOT NULL,
    document       TEXT NOT NULL,
    PRIMARY KEY (principal_kind, principal_id, name_canon)
) STRICT;

CREATE TABLE access_keys (
    access_key_id     TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(account_id),
    user_id           TEXT NOT NULL REFERENCES users(user_id),
    status            TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
    created_at        INTEGER NOT NULL,
    sealed_secret     BLOB NOT NULL,
    last_used_at      INTEGER,
    last_used_service TEXT,
    last_used_region  TEXT
) STRICT;
CREATE INDEX access_keys_user ON access_keys(user_id);
"#,
    // 2: sign-in: login profiles, password history, account password policy, virtual MFA
    // devices, lockout counters, credential reports.
    r#"
ALTER TABLE accounts ADD COLUMN root_password_changed_at INTEGER;

CREATE TABLE login_profiles (
    user_id                 TEXT PRIMARY KEY REFERENCES users(user_id),
    password_hash           TEXT NOT NULL,
    password_reset_required INTEGER NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    password_changed_at     INTEGER NOT NULL,
    password_last_used      INTEGER
) STRICT;

CREATE TABLE password_history (
    principal_id TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    changed_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX password_history_principal ON password_history(principal_id, changed_at);

CREATE TABLE password_policies (
    account_id TEXT PRIMARY KEY REFERENCES accounts(account_id),
    policy     TEXT NOT NULL
) STRICT;

CREATE TABLE mfa_devices (
    serial_number TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(account_id),
    name          TEXT NOT NULL,
    path          TEXT NOT NULL,
    sealed_seed   BLOB NOT NULL,
    user_id       TEXT REFERENCES users(user_id),
    root          INTEGER NOT NULL DEFAULT 0,
    enabled_at    INTEGER,
    last_step     INTEGER,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX mfa_devices_user ON mfa_devices(user_id);

CREATE TABLE lockouts (
    account_id   TEXT NOT NULL,
    name_canon   TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    window_start INTEGER,
    locked_until INTEGER,
    PRIMARY KEY (account_id, name_canon)
) STRICT;

CREATE TABLE credential_reports (
    account_id   TEXT PRIMARY KEY REFERENCES accounts(account_id),
    generated_at INTEGER NOT NULL,
    content      TEXT NOT NULL
) STRICT;
"#,
    // 3: sign-in security events (locks and unlocks), written in the same transaction as
    // the change they record.
    r#"
CREATE TABLE auth_events (
    at         INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    name_canon TEXT NOT NULL,
    event      TEXT NOT NULL,
    actor      TEXT NOT NULL
) STRICT;
CREATE INDEX auth_events_name ON auth_events(account_id, name_canon, at);
"#,
    // 4: token-signing keys (private halves sealed) and session revocation state.
    r#"
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    public_key     BLOB NOT NULL,
    sealed_private BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    retire_after   INTEGER,
    current        INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE session_revocations (
    scope         TEXT NOT NULL,
    subject       TEXT NOT NULL,
    revoke_before INTEGER NOT NULL,
    PRIMARY KEY (scope, subject)
) STRICT;

CREATE TABLE revoked_tokens (
    token_id   TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
"#,
    // 5: EC2-like instance identities: the instance keeps its Ed25519 private key, the
    // vault stores only the public half.
    r#"
CREATE TABLE instances (
    instance_id   TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(account_id),
    name          TEXT NOT NULL,
    profile_id    TEXT NOT NULL REFERENCES instance_profiles(profile_id),
    public_key    BLOB NOT NULL UNIQUE,
    registered_at INTEGER NOT NULL
) STRICT;
CREATE INDEX instances_profile ON instances(profile_id);
"#,
    // 6: resource-based policies of the team's own resources (bucket-policy style). The
    // account that put a policy owns the resource it is attached to.
    r#"
CREATE TABLE resource_policies (
    resource_arn TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(account_id),
    document     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX resource_policies_account ON resource_policies(account_id, resource_arn);
"#,
    // 7: the tamper-evident audit log: one row per operation, each carrying the hash of
    // the previous one, and Ed25519-signed checkpoints of the chain.
    r#"
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    request_id  TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    principal   TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    decision    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    source_ip   TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    credential  TEXT NOT NULL,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL
) STRICT;
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_principal ON audit_log(principal, seq);

CREATE TABLE audit_checkpoints (
    seq        INTEGER PRIMARY KEY,
    hash       BLOB NOT NULL,
    at         INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    signature  BLOB NOT NULL
) STRICT;
"#,
    // 8: permissions-boundary lookups. ListPolicies and GetPolicy count, for every customer
    // policy, the users and roles using it as their boundary; without an index that was a
    // scan of every user per policy (16 s per page of 1,000 policies on a 100,000-user
    // vault). Partial: only the few entities with a boundary are indexed.
    r#"
CREATE INDEX users_boundary ON users(boundary_arn) WHERE boundary_arn IS NOT NULL;
CREATE INDEX roles_boundary ON roles(boundary_arn) WHERE boundary_arn IS NOT NULL;
"#,
    // 9: revoke-before cut-offs carry the revocation version that set them, so a server
    // re-reads only what changed (it re-read every cut-off after each revocation, and a
    // key deletion is one); cut-offs older than any live session are pruned by time.
    r#"
ALTER TABLE session_revocations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX session_revocations_version ON session_revocations(version);
CREATE INDEX session_revocations_before ON session_revocations(revoke_before);
"#,
    // 10: the audit log's (principal, seq) index served no query. Audit search and count
    // then filtered with `(?1 IS NULL OR principal = ?1)`, which SQLite planned as a scan of
    // the log whatever the index (they now name only the filters given, and use the time
    // index for a time range; a principal alone still scans). Keeping it up was most of the audit writer's page writes when
    // many principals are active: one leaf page per principal per group commit, against
    // one appended page for `seq` and `at`. GetCallerIdentity rotating 100 keys ran at
    // 6,600-7,800 requests/s with it and 10,900-11,200 without (docs/performance.md).
    r#"
DROP INDEX IF EXISTS audit_log_principal;
"#,
];
