//! The CLI reference (`docs/cli.md`) names every command of the binary, so it cannot go
//! stale silently: a new subcommand fails this test until it is documented.

use clap::CommandFactory;

/// Every runnable command path under `iamvault`, such as `iamvault user create`; a group
/// with subcommands is not itself runnable, and clap's generated `help` is skipped.
fn command_paths(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let path = format!("{prefix} {}", sub.get_name());
        if sub.get_subcommands().any(|s| s.get_name() != "help") {
            command_paths(sub, &path, out);
        } else {
            out.push(path);
        }
    }
}

fn cli_reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Whether `text` names `path` as a whole command: `iamvault user delete` must not be
/// satisfied by `iamvault user delete-boundary`.
fn mentions(text: &str, path: &str) -> bool {
    text.match_indices(path).any(|(at, _)| {
        let next = text[at + path.len()..].chars().next();
        !matches!(next, Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[test]
fn every_command_is_in_the_cli_reference() {
    let mut paths = Vec::new();
    command_paths(&iamvault::cli::Cli::command(), "iamvault", &mut paths);
    assert!(paths.len() > 50, "the command tree looks empty: {paths:?}");
    let doc = cli_reference();
    let missing: Vec<&String> = paths.iter().filter(|p| !mentions(&doc, p)).collect();
    assert!(
        missing.is_empty(),
        "docs/cli.md does not mention these commands (add a section `### \\`iamvault …\\``): {missing:#?}"
    );
}

#[test]
fn every_documented_command_exists() {
    let mut paths = Vec::new();
    command_paths(&iamvault::cli::Cli::command(), "iamvault", &mut paths);
    let doc = cli_reference();
    let stale: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### `")?.strip_suffix('`'))
        .filter(|h| h.starts_with("iamvault "))
        .filter(|h| !paths.iter().any(|p| p == h))
        .collect();
    assert!(
        stale.is_empty(),
        "docs/cli.md has sections for commands the binary does not have: {stale:?}"
    );
}

#[test]
fn mentions_needs_the_whole_command_name() {
    assert!(mentions(
        "run `iamvault user delete` now",
        "iamvault user delete"
    ));
    assert!(mentions("iamvault user delete", "iamvault user delete"));
    assert!(!mentions(
        "iamvault user delete-boundary alice",
        "iamvault user delete"
    ));
}
