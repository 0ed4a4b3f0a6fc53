//! Subcommands and options that cargo features leave out of a build: known to the command line
//! in every build, and refused with the feature to enable instead of clap's "unrecognized".

use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Checks that `args` is refused for the missing `feature`: exit 2, nothing on standard output,
/// one `whale-security:` line naming the cargo feature and how to enable it.
#[cfg(not(all(feature = "http", feature = "sqlite", feature = "postgres")))]
fn assert_needs_feature(args: &[&str], feature: &str) {
    let out = run(args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    assert!(stderr.starts_with("whale-security: "), "{args:?}: {stderr}");
    assert!(stderr.contains("cargo feature"), "{args:?}: {stderr}");
    assert!(
        stderr.contains(&format!("`{feature}`")),
        "{args:?}: {stderr}"
    );
    let flag = stderr.split("`--features ").nth(1).unwrap_or_default();
    let list = flag.split('`').next().unwrap_or_default();
    assert!(list.split(',').any(|f| f == feature), "{args:?}: {stderr}");
    assert!(!stderr.contains("unrecognized"), "{args:?}: {stderr}");
    assert!(
        !stderr.contains("unexpected argument"),
        "{args:?}: {stderr}"
    );
}

#[test]
fn help_lists_every_subcommand_in_every_build() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for command in [
        "validate",
        "check-ip",
        "session",
        "rotation",
        "validate-password",
        "settings",
        "audit",
        "preview",
        "keys",
        "members",
        "report",
        "totp",
        "lint-allowlist",
        "serve",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "{command}: {help}"
        );
    }
}

/// A build without `http` answered `serve` with clap's "unrecognized subcommand 'serve' ... a
/// similar subcommand exists: 'preview'": it names the feature to enable, whatever the
/// arguments.
#[cfg(not(feature = "http"))]
#[test]
fn serve_without_the_http_feature_names_it() {
    for args in [
        &["serve"][..],
        &["serve", "--db", "x.db", "--listen", "127.0.0.1:0"][..],
    ] {
        assert_needs_feature(args, "http");
    }
}

/// `serve --help` in a build without `http` exited 2 with the refusal: help is help, exit 0,
/// and it says which cargo feature the command needs.
#[cfg(not(feature = "http"))]
#[test]
fn serve_help_without_the_http_feature_is_help_naming_the_feature() {
    for args in [&["serve", "--help"][..], &["serve", "-h"][..]] {
        let out = run(args);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}");
        assert!(stdout.contains("whale-security serve"), "{stdout}");
        assert!(stdout.contains("cargo feature"), "{stdout}");
        assert!(stdout.contains("`http`"), "{stdout}");
        assert!(out.stderr.is_empty(), "{args:?}");
    }
}

/// The database commands in a build without `sqlite` name the feature to enable.
#[cfg(not(feature = "sqlite"))]
#[test]
fn database_commands_without_the_sqlite_feature_name_it() {
    for args in [
        &[
            "settings",
            "import",
            "--db",
            "x.db",
            "data/spec-settings.json",
        ][..],
        &["settings", "show", "--db", "x.db"][..],
        &["audit", "--db", "x.db"][..],
        &["preview", "--db", "x.db", "u.json"][..],
        &["keys", "issue", "--db", "x.db"][..],
        &["members", "import", "--db", "x.db", "data/members.json"][..],
        &["serve", "--db", "x.db"][..],
    ] {
        assert_needs_feature(args, "sqlite");
    }
}

/// `serve --database-url` in a build with `serve` but without `postgres` names the feature
/// instead of calling the option unknown.
#[cfg(all(feature = "http", feature = "sqlite", not(feature = "postgres")))]
#[test]
fn serve_database_url_without_the_postgres_feature_names_it() {
    assert_needs_feature(
        &[
            "serve",
            "--database-url",
            "postgres://whale@127.0.0.1:1/none",
        ],
        "postgres",
    );
}
