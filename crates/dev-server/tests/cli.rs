//! The `dev-server` binary's command line as a user meets it: help that exits 0 for the command
//! and each subcommand, usage errors that do not, and the `.env` file read at start-up.

use std::path::PathBuf;
use std::process::{Command, Output};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

fn dev_server(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dev-server"));
    cmd.args(args);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh directory holding only a `.env` with `text`, to run the binary in.
fn dir_with_dotenv(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dev-server-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), text).unwrap();
    dir
}

/// The `sub` of a token, if it verifies with `secret`.
fn subject(token: &str, secret: &str) -> Option<String> {
    let data = jsonwebtoken::decode::<Value>(
        token.trim(),
        &DecodingKey::from_secret(secret.as_bytes()),
        &Validation::new(Algorithm::HS256),
    )
    .ok()?;
    data.claims["sub"].as_str().map(str::to_owned)
}

#[test]
fn help_exits_zero_and_lists_every_subcommand() {
    let out = run(&mut dev_server(&["--help"]));
    assert!(out.status.success(), "{out:?}");
    let help = stdout(&out);
    for sub in ["serve", "token", "pay", "load-catalog"] {
        assert!(
            help.contains(&format!("  {sub} ")),
            "{sub} missing from:\n{help}"
        );
    }
}

#[test]
fn each_subcommand_has_its_own_help() {
    for (sub, flags) in [
        (
            "pay",
            &[
                "<ORDER_ID>",
                "--provider",
                "--amount",
                "--fail",
                "--refund",
                "--url",
            ][..],
        ),
        ("token", &["--sub", "--email", "--admin", "--days"]),
        (
            "load-catalog",
            &["--api", "--token", "OMS_ADMIN_TOKEN", "<CATALOG_JSON>"],
        ),
        ("serve", &[]),
    ] {
        let out = run(&mut dev_server(&[sub, "--help"]));
        assert!(out.status.success(), "{sub}: {out:?}");
        let help = stdout(&out);
        for flag in flags {
            assert!(help.contains(flag), "{sub} --help lacks {flag}:\n{help}");
        }
    }
}

#[test]
fn a_usage_error_exits_non_zero_and_says_what_is_wrong() {
    for (args, says) in [
        (&["bogus"][..], "unrecognized subcommand"),
        (&["pay"], "<ORDER_ID>"),
        (
            &["pay", "ord_1", "--fail", "--refund", "5"],
            "cannot be used with",
        ),
        (&["token", "--days", "ten"], "--days"),
    ] {
        let out = run(&mut dev_server(args));
        assert!(!out.status.success(), "{args:?}: {out:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_dotenv_file_in_the_working_directory_is_read_and_the_real_environment_wins() {
    let dir = dir_with_dotenv(
        "dotenv-read",
        "# a comment\nDEV_JWT_SECRET=secret-from-the-file\n",
    );
    let from_file = run(dev_server(&["token", "--sub", "alice"])
        .current_dir(&dir)
        .env_remove("DEV_JWT_SECRET"));
    assert!(from_file.status.success(), "{from_file:?}");
    assert_eq!(
        subject(&stdout(&from_file), "secret-from-the-file").as_deref(),
        Some("alice")
    );

    let from_env = run(dev_server(&["token", "--sub", "bob"])
        .current_dir(&dir)
        .env("DEV_JWT_SECRET", "secret-from-the-environment"));
    assert!(from_env.status.success(), "{from_env:?}");
    assert_eq!(
        subject(&stdout(&from_env), "secret-from-the-environment").as_deref(),
        Some("bob")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_malformed_dotenv_file_is_a_clear_error_that_does_not_echo_the_value() {
    let dir = dir_with_dotenv(
        "dotenv-bad",
        "PORT=3000\nSTRIPE_SECRET_KEY=\"sk_test_unterminated\n",
    );
    let out = run(dev_server(&["token"]).current_dir(&dir));
    assert!(!out.status.success(), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains(".env") && err.contains("STRIPE_SECRET_KEY"),
        "{err}"
    );
    assert!(!err.contains("sk_test_unterminated"), "{err}");
    assert!(stdout(&out).is_empty(), "{out:?}");
    let _ = std::fs::remove_dir_all(dir);
}
