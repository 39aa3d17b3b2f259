//! The `iamvault` command line. One file per command group; `main.rs` only calls
//! [`main`]. The local CLI acts as the root user of the vault's default account.

mod access_key;
mod account;
mod audit;
mod backup;
mod client_cmds;
mod group;
mod init;
mod instance;
mod instance_profile;
mod logbuf;
mod output;
mod policy;
mod rekey;
mod resource_policy;
mod role;
mod serve;
mod signin;
mod simulate;
mod tokens;
mod user;

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::clock::Env;
use crate::error::{Error, Result};
use crate::model::Tag;
use crate::service::{Caller, RequestContext, Vault};

pub use output::Output;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people.
    #[default]
    Table,
    /// Exactly one JSON document on stdout, for scripts.
    Json,
}

/// iamvault: a self-hosted identity and access management vault that speaks the AWS IAM
/// and STS APIs.
#[derive(Debug, Parser)]
#[command(
    name = "iamvault",
    version,
    about = "A self-hosted identity and access management vault that speaks the AWS IAM and STS APIs",
    after_help = "Examples:\n  iamvault init\n  iamvault user create alice --path /engineering/\n  iamvault --output json user list"
)]
pub struct Cli {
    /// The vault's data directory.
    #[arg(
        long,
        global = true,
        env = "IAMVAULT_DATA_DIR",
        default_value = "./iamvault-data"
    )]
    pub data_dir: PathBuf,
    /// The account whose root user the local CLI acts as (default: the vault's first
    /// account).
    #[arg(long = "as-account", global = true, env = "IAMVAULT_ACCOUNT")]
    pub account: Option<String>,
    /// File holding the passphrase that protects the master key (one trailing newline
    /// is stripped). `init` wraps a new vault's key with it; every other command needs it
    /// to open such a vault.
    #[arg(
        long,
        global = true,
        env = "IAMVAULT_PASSPHRASE_FILE",
        value_name = "FILE"
    )]
    pub passphrase_file: Option<PathBuf>,
    /// Output format: `table` for people, `json` for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new vault: data directory, master key, database, account, root user and an
    /// `admin` user with one access key.
    #[command(
        after_help = "Example:\n  iamvault --data-dir /var/lib/iamvault init --account-id 123456789012"
    )]
    Init(init::InitArgs),
    /// Manage the accounts of this vault.
    #[command(subcommand)]
    Account(account::AccountCmd),
    /// Run the AWS-compatible server (IAM and STS Query API with SigV4); initializes an
    /// empty data directory first.
    #[command(
        after_help = "Example:\n  iamvault serve --listen 127.0.0.1:8900\n  iamvault serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem"
    )]
    Serve(serve::ServeArgs),
    /// Manage IAM users.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Manage IAM groups and their members.
    #[command(subcommand)]
    Group(group::GroupCmd),
    /// Manage IAM roles.
    #[command(subcommand)]
    Role(role::RoleCmd),
    /// Manage instance profiles (the role handed to an EC2-like workload).
    #[command(subcommand, name = "instance-profile")]
    InstanceProfile(instance_profile::ProfileCmd),
    /// Take an online, consistent copy of the database (the server may keep running).
    #[command(after_help = "Example:\n  iamvault backup --to /backups/vault-2026-11-28.db")]
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty data directory, with the master key it was made under.
    #[command(
        after_help = "Example:\n  iamvault --data-dir /var/lib/iamvault restore --from /backups/vault-2026-11-28.db --master-key /secure/master.key"
    )]
    Restore(backup::RestoreArgs),
    /// Change the passphrase that protects the master key, or the master key itself.
    #[command(
        after_help = "Examples:\n  iamvault --passphrase-file old.txt rekey --new-passphrase-file new.txt\n  iamvault rekey --new-master-key"
    )]
    Rekey(rekey::RekeyArgs),
    /// Read and verify the tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Manage resource policies of your own services' resources (bucket-policy style).
    #[command(subcommand)]
    ResourcePolicy(resource_policy::ResourcePolicyCmd),
    /// Manage managed and inline policies and their attachments.
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
    /// Manage users' long-term access keys.
    #[command(subcommand, name = "access-key")]
    AccessKey(access_key::KeyCmd),
    /// Manage console passwords (login profiles).
    #[command(subcommand, name = "login-profile")]
    LoginProfile(signin::LoginProfileCmd),
    /// Manage the account password policy.
    #[command(subcommand, name = "password-policy")]
    PasswordPolicy(signin::PasswordPolicyCmd),
    /// Manage virtual MFA (TOTP) devices.
    #[command(subcommand)]
    Mfa(signin::MfaCmd),
    /// Show or change vault settings.
    #[command(subcommand)]
    Settings(signin::SettingsCmd),
    /// Print the credential report (AWS's CSV), generating it when older than four hours.
    #[command(
        name = "credential-report",
        after_help = "Example:\n  iamvault credential-report --force > report.csv"
    )]
    CredentialReport(signin::ReportArgs),
    /// Check the account against IAM best practice (exit 0 clean, 1 with findings).
    #[command(after_help = "Example:\n  iamvault doctor --output json")]
    Doctor,
    /// Register EC2-like instances (their keys) with instance profiles.
    #[command(subcommand)]
    Instance(instance::InstanceCmd),
    /// Run the workload agent: IMDSv2 and container credentials from the vault.
    #[command(
        after_help = "Example:\n  iamvault agent --endpoint https://vault.internal:8443 --instance-key /etc/iamvault/instance.key --listen 127.0.0.1:8901"
    )]
    Agent(instance::AgentArgs),
    /// Manage the keys that sign session tokens.
    #[command(subcommand)]
    Keys(tokens::KeysCmd),
    /// Revoke sessions.
    #[command(subcommand)]
    Session(tokens::SessionCmd),
    /// Inspect session tokens (needs no data directory).
    #[command(subcommand)]
    Token(tokens::TokenCmd),
    /// Sign in with a password (and MFA code) and get temporary credentials.
    #[command(
        after_help = "Examples:\n  iamvault login --endpoint http://127.0.0.1:8900 --account 123456789012 --user alice --profile work\n  eval \"$(iamvault login --endpoint URL --account ACCT --user alice --format env)\""
    )]
    Login(client_cmds::LoginArgs),
    /// Print AWS credential_process JSON from a long-term profile (GetSessionToken or
    /// AssumeRole), cached until five minutes before expiry.
    #[command(
        name = "credential-process",
        after_help = "Example (in ~/.aws/config):\n  credential_process = iamvault credential-process --endpoint http://127.0.0.1:8900 --source-profile work --role-arn arn:aws:iam::123456789012:role/admin"
    )]
    CredentialProcess(client_cmds::CredentialProcessArgs),
    /// Rotate the access key of a credentials-file profile safely: create, write, prove,
    /// then deactivate and delete the old key.
    #[command(
        name = "rotate-key",
        after_help = "Example:\n  iamvault rotate-key --endpoint http://127.0.0.1:8900 --profile work"
    )]
    RotateKey(client_cmds::RotateKeyArgs),
    /// Evaluate a request against policies and explain the decision (exit 0 allowed, 2 denied).
    #[command(
        after_help = "Examples:\n  iamvault simulate --policy-file p.json --action iam:CreateUser --resource arn:aws:iam::123456789012:user/bob\n  iamvault simulate --user alice --action iam:ListUsers --context aws:SourceIp=ip:10.0.0.1"
    )]
    Simulate(simulate::SimulateArgs),
}

/// What a command needs to run: the open vault, the acting caller and the output.
pub struct Ctx {
    /// The open vault.
    pub vault: Vault,
    /// The local administrator: the default account's root user.
    pub caller: Caller,
    /// Request facts for local calls.
    pub req: RequestContext,
}

impl Ctx {
    fn open(
        data_dir: &Path,
        account: Option<&str>,
        passphrase: Option<&crate::model::SecretString>,
    ) -> Result<Self> {
        let vault = Vault::open_with(data_dir, Env::system(), passphrase)?;
        let account = match account {
            None => vault.default_account()?,
            Some(a) => {
                let id = crate::model::AccountId::parse(a)?;
                if !vault.accounts()?.contains(&id) {
                    return Err(Error::NoSuchEntity(format!(
                        "the account {id} does not exist in this vault"
                    )));
                }
                id
            }
        };
        Ok(Self {
            caller: Caller::root(&account),
            vault,
            req: RequestContext {
                secure_transport: true,
                ..RequestContext::default()
            },
        })
    }
}

/// Reads a policy document from a file path, `file://PATH`, or `-` for standard input.
/// Input is bounded: a document larger than the policy size cap is refused unread.
pub fn read_document(spec: &str) -> Result<String> {
    const CAP: u64 = 1 << 20;
    let path = spec.strip_prefix("file://").unwrap_or(spec);
    let mut buf = String::new();
    let res = if path == "-" {
        std::io::stdin().take(CAP + 1).read_to_string(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(CAP + 1).read_to_string(&mut buf))
    };
    res.map_err(|e| Error::InvalidInput(format!("cannot read the document `{path}`: {e}")))?;
    if buf.len() as u64 > CAP {
        return Err(Error::MalformedPolicyDocument(format!(
            "the document `{path}` is larger than 1 MiB"
        )));
    }
    Ok(buf)
}

/// Parses `KEY=VALUE` tag arguments.
pub fn parse_tags(args: &[String]) -> Result<Vec<Tag>> {
    args.iter()
        .map(|a| {
            let (k, v) = a.split_once('=').ok_or_else(|| {
                Error::InvalidInput(format!("tag `{a}` is not in the form KEY=VALUE"))
            })?;
            Tag::new(k, v)
        })
        .collect()
}

fn dispatch(cli: Cli, label: &str) -> Result<Output> {
    let pass = cli
        .passphrase_file
        .as_deref()
        .map(init::read_secret_file)
        .transpose()?;
    let (dir, acct) = (cli.data_dir.clone(), (cli.account.clone(), pass.clone()));
    match cli.command {
        Command::Init(a) => init::run(&cli.data_dir, a, pass),
        Command::Account(c) => local(&dir, &acct, label, |ctx| account::run(ctx, c)),
        Command::Serve(a) => serve::run(&cli.data_dir, cli.output, a, pass.as_ref()),
        Command::User(c) => local(&dir, &acct, label, |ctx| user::run(ctx, c)),
        Command::Group(c) => local(&dir, &acct, label, |ctx| group::run(ctx, c)),
        Command::Role(c) => local(&dir, &acct, label, |ctx| role::run(ctx, c)),
        Command::Backup(a) => local(&dir, &acct, label, |ctx| backup::backup(ctx, a)),
        Command::Rekey(a) => {
            let current = pass.clone();
            local(&dir, &acct, label, |ctx| {
                rekey::run(ctx, a, current.as_ref())
            })
        }
        Command::Restore(a) => backup::restore(&dir, a, pass.as_ref()),
        Command::Audit(c) => local(&dir, &acct, label, |ctx| audit::run(ctx, c)),
        Command::ResourcePolicy(c) => local(&dir, &acct, label, |ctx| resource_policy::run(ctx, c)),
        Command::InstanceProfile(c) => {
            local(&dir, &acct, label, |ctx| instance_profile::run(ctx, c))
        }
        Command::Policy(c) => local(&dir, &acct, label, |ctx| policy::run(ctx, c)),
        Command::AccessKey(c) => local(&dir, &acct, label, |ctx| access_key::run(ctx, c)),
        Command::LoginProfile(c) => local(&dir, &acct, label, |ctx| signin::login_profile(ctx, c)),
        Command::PasswordPolicy(c) => {
            local(&dir, &acct, label, |ctx| signin::password_policy(ctx, c))
        }
        Command::Mfa(c) => local(&dir, &acct, label, |ctx| signin::mfa(ctx, c)),
        Command::Settings(c) => local(&dir, &acct, label, |ctx| signin::settings(ctx, c)),
        Command::CredentialReport(a) => {
            local(&dir, &acct, label, |ctx| signin::credential_report(ctx, a))
        }
        Command::Doctor => local(&dir, &acct, label, |ctx| signin::doctor(ctx)),
        Command::Instance(instance::InstanceCmd::Keygen { out }) => instance::keygen(&out),
        Command::Instance(c) => local(&dir, &acct, label, |ctx| instance::run(ctx, c)),
        Command::Agent(a) => instance::agent(a),
        Command::Keys(c) => local(&dir, &acct, label, |ctx| tokens::keys(ctx, c)),
        Command::Token(c) => tokens::token(c),
        Command::Session(c) => local(&dir, &acct, label, |ctx| tokens::session(ctx, c)),
        Command::RotateKey(a) => client_cmds::rotate(a),
        Command::Login(a) => client_cmds::login(a),
        Command::CredentialProcess(a) => client_cmds::credential_process(a),
        Command::Simulate(a) => local(&dir, &acct, label, |ctx| simulate::run(ctx, a)),
    }
}

/// Runs a local administration command as the account's root user, inside an audit
/// scope: the command's record is written with its change, or after it (reads, denials,
/// failures). A read whose record cannot be written prints nothing and fails.
fn local(
    data_dir: &Path,
    (account, passphrase): &(Option<String>, Option<crate::model::SecretString>),
    label: &str,
    f: impl FnOnce(&mut Ctx) -> Result<Output>,
) -> Result<Output> {
    let mut ctx = Ctx::open(data_dir, account.as_deref(), passphrase.as_ref())?;
    let mut id = [0u8; 8];
    ctx.vault.random().fill(&mut id)?;
    let guard = crate::service::audit_begin(crate::service::AuditContext::local_admin(
        &ctx.caller,
        format!("local-{}", hex::encode(id)),
        format!("cli:{label}"),
    ));
    let out = f(&mut ctx);
    let message = match &out {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    let outcome = match &out {
        Ok(_) => crate::service::AuditOutcome::Allowed,
        Err(e) => crate::service::AuditOutcome::of(e, &message),
    };
    ctx.vault.audit_finish(guard, outcome)?;
    out
}

/// The subcommand path of the arguments (`user create`), for the audit record. Only
/// command names: never an argument value.
fn command_label() -> String {
    use clap::CommandFactory;
    let mut names = Vec::new();
    if let Ok(m) = Cli::command().try_get_matches() {
        let mut cur = m.subcommand();
        while let Some((name, sub)) = cur {
            names.push(name.to_owned());
            cur = sub.subcommand();
        }
    }
    names.join(" ")
}

/// Runs the CLI with the process arguments and returns the exit code: 0 ok, 1 error,
/// 2 denied, 3 invalid input.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 3 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let format = cli.output;
    let label = command_label();
    match dispatch(cli, &label) {
        Ok(out) => {
            out.print(format);
            out.exit
        }
        Err(e) => {
            eprintln!("error: {}: {}", e.label(), e);
            if let Some(h) = e.hint() {
                eprintln!("hint: {h}");
            }
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_a_description_and_an_example() {
        fn walk(cmd: &clap::Command, path: &str) {
            for sub in cmd.get_subcommands() {
                let p = format!("{path} {}", sub.get_name());
                assert!(sub.get_about().is_some(), "`{p}` has no description");
                if sub.get_subcommands().next().is_none() {
                    let after = sub
                        .get_after_help()
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    assert!(after.contains("iamvault "), "`{p}` has no example");
                }
                walk(sub, &p);
            }
        }
        walk(&Cli::command(), "iamvault");
    }

    #[test]
    fn global_flags_go_anywhere() {
        let a = Cli::try_parse_from(["iamvault", "--output", "json", "user", "list"]).unwrap();
        let b = Cli::try_parse_from([
            "iamvault",
            "user",
            "list",
            "--output",
            "json",
            "--data-dir",
            "/x",
        ])
        .unwrap();
        assert_eq!(a.output, Format::Json);
        assert_eq!(b.output, Format::Json);
        assert_eq!(b.data_dir, PathBuf::from("/x"));
    }

    #[test]
    fn tags_parse() {
        let t = parse_tags(&["team=platform".into(), "empty=".into()]).unwrap();
        assert_eq!(t[0].key, "team");
        assert_eq!(t[1].value, "");
        assert!(parse_tags(&["novalue".into()]).is_err());
    }
}
