//! `.env.example` cannot drift from the code: every variable the configuration sections and the
//! dev server's settings read is listed in it, it is a valid `.env` file, copying it to `.env`
//! gives the documented defaults, and it sets no secret.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dev_server::{CorsOrigins, DevSettings, load_catalog::TOKEN_ENV};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The string literals of `source` that are arguments of a call (right after `(` or `,`),
/// outside comments, up to its `#[cfg(test)]` module.
fn call_arguments(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            // A char literal ('"' or '\''), not a lifetime.
            '\'' if chars.get(i + 2) == Some(&'\'') => i += 2,
            '\'' if chars.get(i + 1) == Some(&'\\') => {
                while i + 1 < chars.len() && chars[i + 1] != '\'' {
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                let argument = chars[..i]
                    .iter()
                    .rev()
                    .find(|c| !c.is_whitespace())
                    .is_some_and(|c| matches!(c, '(' | ','));
                let mut lit = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    if let Some(c) = chars.get(i) {
                        lit.push(*c);
                    }
                    i += 1;
                }
                if argument {
                    out.push(lit);
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Whether a call's literal argument is an environment variable's name: the configuration code
/// passes names as literals to the reader (`env.var("PORT")`, `env.number("CLEANUP_BATCH_LIMIT",
/// …)`) or to a section's helper that calls it (`credential(env, "SHIPROCKET_EMAIL", …)`), and
/// passes no other SCREAMING_SNAKE_CASE literal to a call.
fn is_variable_name(lit: &str) -> bool {
    lit.len() >= 2
        && lit.starts_with(|c: char| c.is_ascii_uppercase())
        && lit
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Every variable the configuration sections (`crates/app/src/config`) and
/// `DevSettings::from_lookup` (`crates/dev-server/src/lib.rs`) read.
fn variables_the_code_reads() -> BTreeSet<String> {
    let config = repo().join("crates/app/src/config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&config)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs") && !p.ends_with("tests.rs"))
        .collect();
    files.push(repo().join("crates/dev-server/src/lib.rs"));
    let mut names = BTreeSet::new();
    for file in files {
        let source = read(&file);
        names.extend(
            call_arguments(&source)
                .into_iter()
                .filter(|l| is_variable_name(l)),
        );
    }
    // The binary's own reads, outside the settings.
    let main = read(&repo().join("crates/dev-server/src/main.rs"));
    for call in main.split("env::var(\"").skip(1) {
        if let Some((name, _)) = call.split_once('"') {
            names.insert(name.to_owned());
        }
    }
    names.insert(TOKEN_ENV.to_owned());
    names
}

/// `.env.example`'s entries, `(name, value, commented out)`.
fn example_entries() -> Vec<(String, String, bool)> {
    read(&repo().join(".env.example"))
        .lines()
        .filter_map(|line| {
            let (commented, rest) = match line.strip_prefix("# ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (name, value) = rest.split_once('=')?;
            is_variable_name(name).then(|| (name.to_owned(), value.to_owned(), commented))
        })
        .collect()
}

#[test]
fn every_variable_the_code_reads_is_in_the_env_example() {
    let read = variables_the_code_reads();
    // The scan sees direct reads, reads through a section's helper, and the dev server's own.
    for known in [
        "PORT",
        "DEV_CORS_ORIGINS",
        "CLEANUP_BATCH_LIMIT",
        "SHIPROCKET_EMAIL",
        "SELLER_NAME",
        "STRIPE_WEBHOOK_SECRET",
        "LOG_LEVEL",
        "OMS_ADMIN_TOKEN",
    ] {
        assert!(read.contains(known), "the scan missed {known}: {read:?}");
    }
    let listed: BTreeSet<String> = example_entries().into_iter().map(|(n, ..)| n).collect();
    let missing: Vec<&String> = read.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        ".env.example lacks {missing:?}: add each with its default and a comment line"
    );
}

#[test]
fn each_entry_of_the_env_example_is_listed_once_under_a_comment() {
    let text = read(&repo().join(".env.example"));
    let lines: Vec<&str> = text.lines().collect();
    let mut seen = BTreeSet::new();
    for (i, (name, ..)) in example_entries().iter().enumerate() {
        assert!(seen.insert(name.clone()), "{name} is listed twice");
        let at = lines
            .iter()
            .position(|l| {
                l.starts_with(&format!("{name}=")) || l.starts_with(&format!("# {name}="))
            })
            .unwrap_or_else(|| panic!("entry {i} {name}"));
        let above = lines[at.saturating_sub(1)];
        let is_comment = above.strip_prefix("# ").is_some_and(|text| {
            text.split_once('=')
                .is_none_or(|(before, _)| !is_variable_name(before))
        });
        assert!(is_comment, "{name} has no comment line above it: {above:?}");
    }
}

#[test]
fn the_env_example_copied_to_dot_env_gives_the_dev_servers_defaults_and_sets_no_secret() {
    let pairs: Vec<(String, String)> = dotenvy::from_path_iter(repo().join(".env.example"))
        .unwrap()
        .collect::<Result<_, _>>()
        .expect("a valid .env file");
    for (name, _) in &pairs {
        assert!(
            !["SECRET", "_KEY", "TOKEN", "PASSWORD"]
                .iter()
                .any(|s| name.ends_with(s) || name.contains(&format!("{s}_"))),
            "{name} is set in .env.example: secrets stay commented out"
        );
    }
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let from_file = DevSettings::from_lookup(get).expect("the example is a valid configuration");
    let defaults = DevSettings::from_lookup(|_| None).unwrap();
    // What the settings amount to, one list for both sides.
    let seen = |s: &DevSettings| {
        format!(
            "{:?}",
            (
                s.port,
                s.host.as_str(),
                s.background,
                s.cleanup_interval,
                &s.backend,
                s.config.http.api_prefix.as_str(),
                s.config.cleanup.batch_limit,
                s.config.payments.mode,
                s.fulfilment.max_receives,
                &s.fulfilment.seller.name,
                &s.cors_origins,
            )
        )
    };
    assert_eq!(seen(&from_file), seen(&defaults));
    assert_eq!(
        defaults.cors_origins,
        CorsOrigins::parse(&["http://localhost:3001".into()]).unwrap()
    );
}
