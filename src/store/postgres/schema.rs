//! The PostgreSQL schema: versioned migrations applied once per schema, under an advisory lock.

use std::path::PathBuf;

use postgres::Client;
use postgres::types::Type;

use super::backend;
use crate::store::StoreError;

/// The schema version this build writes: the number of migrations.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "MIGRATIONS is a short literal list; its length fits an i32"
)]
pub(super) const VERSION: i32 = MIGRATIONS.len() as i32;

/// The NOTIFY channel of `schema`: the settings trigger sends `"<version> <store_id>"` to it.
pub(super) fn channel(schema: &str) -> String {
    format!("{CHANNEL_PREFIX}{schema}")
}

/// Refuses a schema name that would need quoting, so it can be written into SQL and into the
/// connection's `search_path` option as it is.
pub(super) fn check_name(name: &str) -> Result<(), StoreError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= MAX_NAME && !name.starts_with("pg_") {
        return Ok(());
    }
    Err(StoreError::InvalidConfig {
        detail: format!(
            "schema name `{}` must be 1 to {MAX_NAME} characters of a-z, 0-9 and _, not starting with a digit or `pg_`",
            crate::quote::shorten(name)
        ),
    })
}

/// Creates `schema` when missing and applies the migrations it lacks, all in one transaction.
///
/// Instances starting together serialize on an advisory lock keyed by the schema, so each
/// migration runs once; DDL is transactional, so a failed migration leaves nothing behind.
pub(super) fn migrate(client: &mut Client, schema: &str, database: &str) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[(&LOCK_KEY, Type::INT4), (&schema, Type::TEXT)],
    )
    .map_err(backend)?;
    // INVARIANT: `schema` passed `check_name`, so it needs no quoting.
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.whale_security_migrations (
             version    integer PRIMARY KEY CHECK (version >= 1),
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .map_err(backend)?;
    let found: i32 = tx
        .query_typed_one(
            "SELECT coalesce(max(version), 0) FROM whale_security_migrations",
            &[],
        )
        .map_err(backend)?
        .try_get(0)
        .map_err(backend)?;
    if found > VERSION {
        return Err(StoreError::SchemaTooNew {
            path: PathBuf::from(format!("{database} schema {schema}")),
            found: i64::from(found),
            supported: i64::from(VERSION),
        });
    }
    let pending = MIGRATIONS
        .iter()
        .zip(1_i32..)
        .skip(usize::try_from(found).unwrap_or(usize::MAX));
    for (sql, number) in pending {
        tx.batch_execute(sql).map_err(backend)?;
        tx.execute_typed(
            "INSERT INTO whale_security_migrations (version) VALUES ($1)",
            &[(&number, Type::INT4)],
        )
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

/// The first key of the migration advisory lock: the bytes `WHAL`.
const LOCK_KEY: i32 = 0x5748_414C;

/// Schema names are kept short enough that the channel name fits PostgreSQL's 63-byte limit.
const MAX_NAME: usize = 48;

const CHANNEL_PREFIX: &str = "whale_security:";

/// The schema, one migration per entry, run with `search_path` set to the store's schema.
/// Append new migrations; never edit an applied one.
const MIGRATIONS: &[&str] = &[
    // 1: settings documents with their version, the append-only audit log with a gapless
    //    per-store counter, and a trigger announcing every settings change.
    r#"CREATE TABLE settings (
           store_id text COLLATE "C" PRIMARY KEY,
           version  bigint NOT NULL CHECK (version >= 1),
           document jsonb NOT NULL
       );
       CREATE TABLE audit_heads (
           store_id      text COLLATE "C" PRIMARY KEY,
           last_sequence bigint NOT NULL CHECK (last_sequence >= 1)
       );
       CREATE TABLE audit (
           store_id text COLLATE "C" NOT NULL,
           sequence bigint NOT NULL CHECK (sequence >= 1),
           made_at  timestamptz NOT NULL,
           record   jsonb NOT NULL,
           PRIMARY KEY (store_id, sequence)
       );
       CREATE INDEX audit_by_time ON audit (store_id, made_at);
       CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           RAISE EXCEPTION 'the audit log is append-only';
       END $$;
       CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
           FOR EACH ROW EXECUTE FUNCTION audit_append_only();
       CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
           FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
       CREATE FUNCTION settings_notify() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           PERFORM pg_notify('whale_security:' || TG_TABLE_SCHEMA, NEW.version || ' ' || NEW.store_id);
           RETURN NULL;
       END $$;
       CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE ON settings
           FOR EACH ROW EXECUTE FUNCTION settings_notify();"#,
    // 2: API keys: the digest only, looked up by an 8-byte tag, unique by id and by digest.
    r#"CREATE TABLE api_keys (
           id             text COLLATE "C" PRIMARY KEY,
           store_id       text COLLATE "C" NOT NULL,
           environment    text NOT NULL CHECK (environment IN ('live', 'test')),
           tag            bigint NOT NULL,
           digest         bytea NOT NULL UNIQUE CHECK (length(digest) = 32),
           display_prefix text NOT NULL,
           created_at     timestamptz NOT NULL,
           expires_at     timestamptz,
           revoked_at     timestamptz,
           predecessor    text COLLATE "C"
       );
       CREATE INDEX api_keys_by_tag ON api_keys (tag);
       CREATE INDEX api_keys_by_store ON api_keys (store_id, created_at, id);"#,
    // 3: members with their factors, TOTP factors with their compare-and-set state, sessions,
    //    and password history.
    r#"CREATE TABLE members (
           store_id text COLLATE "C" NOT NULL,
           user_id  text COLLATE "C" NOT NULL,
           document jsonb NOT NULL,
           PRIMARY KEY (store_id, user_id)
       );
       CREATE TABLE totp_factors (
           store_id     text COLLATE "C" NOT NULL,
           user_id      text COLLATE "C" NOT NULL,
           secret       bytea NOT NULL,
           params       jsonb NOT NULL,
           last_step    bigint CHECK (last_step >= 0),
           failures     bigint NOT NULL DEFAULT 0 CHECK (failures >= 0),
           locked_until timestamptz,
           PRIMARY KEY (store_id, user_id)
       );
       CREATE TABLE sessions (
           store_id              text COLLATE "C" NOT NULL,
           id                    text COLLATE "C" NOT NULL,
           user_id               text COLLATE "C" NOT NULL,
           created_at            timestamptz NOT NULL,
           last_activity_at      timestamptz NOT NULL,
           last_authenticated_at timestamptz NOT NULL,
           PRIMARY KEY (store_id, id)
       );
       CREATE INDEX sessions_by_user ON sessions (store_id, user_id);
       CREATE TABLE password_history (
           store_id text COLLATE "C" NOT NULL,
           user_id  text COLLATE "C" NOT NULL,
           sequence bigint NOT NULL CHECK (sequence >= 1),
           phc      text NOT NULL,
           made_at  timestamptz NOT NULL,
           PRIMARY KEY (store_id, user_id, sequence)
       );"#,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_that_would_need_quoting_are_refused() {
        for good in ["whale_security", "_x", "a1", &"a".repeat(MAX_NAME)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "Whale",
            "a-b",
            "a b",
            "a;drop table x",
            "\"q\"",
            "pg_temp",
            &"a".repeat(MAX_NAME + 1),
        ] {
            let err = check_name(bad).unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidConfig { .. }),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn the_longest_channel_fits_postgres_identifier_limit() {
        assert!(channel(&"a".repeat(MAX_NAME)).len() <= 63);
    }
}
