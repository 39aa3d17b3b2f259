//! `iamvault-bench`: the load harness of issue 10. N concurrent clients sign real SigV4
//! requests (with the vault's own signer) against a running iamvault or moto, and report
//! operations per second with p50, p99 and p99.9 latency; `setup` creates what the
//! scenarios need through the IAM API; `sweep` plots throughput against clients; `seed`
//! and `scale` build and measure a 100,000-user vault. See `bench/README.md`.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    clippy::disallowed_methods,
    reason = "a measuring tool: it reads the monotonic clock (Instant::now) to time requests, and converts counts and durations for display"
)]

mod conn;
mod load;
mod report;
mod scale;
mod scenario;
mod seed;
mod setup;
mod wire;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::load::Stop;
use crate::report::Record;
use crate::scenario::{Inputs, NotReady, Scenario};
use crate::wire::{Creds, Target};

#[derive(Parser)]
#[command(
    name = "iamvault-bench",
    about = "Load harness for iamvault (and moto)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct CredArgs {
    /// Access key id (the admin's for `setup` and `create-delete-access-key`).
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: Option<String>,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: Option<String>,
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    session_token: Option<String>,
}

impl CredArgs {
    fn creds(&self) -> Option<Creds> {
        Some(Creds {
            id: self.access_key_id.clone()?,
            secret: self.secret_access_key.clone()?,
            token: self.session_token.clone(),
        })
    }
}

#[derive(Args, Clone)]
struct RunArgs {
    /// `http://host:port` of the running server.
    #[arg(long)]
    endpoint: String,
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Concurrent clients.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Seconds to run (default 10 when --requests is not given).
    #[arg(long, conflicts_with = "requests")]
    duration: Option<f64>,
    /// Operations to run.
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds of warm-up before the measured run (not for `login`).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// The file `setup` wrote.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Keys file written by `seed`: GetCallerIdentity rotates through its sampled keys.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Name of the target in results (`iamvault`, `moto`).
    #[arg(long, default_value = "iamvault")]
    label: String,
    /// Append the result as one JSON line to FILE.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Report this server process's resident memory after the run.
    #[arg(long)]
    server_pid: Option<u32>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    creds: CredArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the users, keys, role, policies, MFA devices the scenarios need.
    Setup {
        #[arg(long)]
        endpoint: String,
        /// Where to write the state the scenarios read.
        #[arg(long, default_value = "target/bench-state.json")]
        state: PathBuf,
        /// One key user per client for create-delete-access-key.
        #[arg(long, default_value_t = 64)]
        max_clients: usize,
        /// Users with a password and MFA for `login` (each signs in once per TOTP step).
        #[arg(long, default_value_t = 300)]
        login_users: usize,
        #[command(flatten)]
        creds: CredArgs,
    },
    /// Run one scenario against a running server.
    Run(RunArgs),
    /// Run a scenario at several client counts; write CSV and a PNG plot.
    Sweep {
        #[command(flatten)]
        run: RunArgs,
        /// Client counts.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32")]
        clients_list: Vec<usize>,
        /// CSV to append to (created with a header when new).
        #[arg(long, default_value = "target/sweep.csv")]
        csv: PathBuf,
        /// PNG of every series in the CSV.
        #[arg(long, default_value = "target/sweep.png")]
        png: PathBuf,
    },
    /// Print the side-by-side table of results written with --json-out.
    Table {
        #[arg(long)]
        results: PathBuf,
        #[arg(long, default_value = "iamvault")]
        a: String,
        #[arg(long, default_value = "moto")]
        b: String,
    },
    /// Draw the PNG of a sweep CSV.
    Plot {
        #[arg(long)]
        csv: PathBuf,
        #[arg(long)]
        png: PathBuf,
        #[arg(long, default_value = "Throughput against concurrent clients")]
        title: String,
    },
    /// Seed a new vault in-process (the account root, no HTTP).
    Seed {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        #[arg(long, default_value_t = 2)]
        keys_per_user: usize,
        #[arg(long, default_value_t = 1_000)]
        roles: usize,
        #[arg(long, default_value_t = 5_000)]
        policies: usize,
        /// Build the vault here and copy it (default: /dev/shm, where fsync is free).
        #[arg(long)]
        staging: Option<PathBuf>,
        /// Users whose first key is written to the keys file.
        #[arg(long, default_value_t = 200)]
        sample: usize,
        /// The keys file (default: DATA_DIR.keys.json).
        #[arg(long)]
        keys_out: Option<PathBuf>,
    },
    /// Start-up, memory, request rate, ListUsers and credential report of seeded vaults.
    Scale {
        /// LABEL=DATA_DIR of a vault made by `seed` (its keys file next to it); repeat.
        #[arg(long = "vault", required = true)]
        vaults: Vec<String>,
        /// The iamvault binary (`cargo build --release` of the main crate).
        #[arg(long, default_value = "../target/release/iamvault")]
        iamvault_bin: PathBuf,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Distinct keys the request-rate test rotates through.
        #[arg(long, default_value_t = 200)]
        sample: usize,
    },
    /// Raw argon2id verifications per second (the vault's default parameters) on N threads.
    Argon2Rate {
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        /// Verify through the vault's hash pool (its reused argon2 memory, one per
        /// permit) instead of argon2's own verifier: the argon2 part of a sign-in alone.
        #[arg(long)]
        pool: bool,
    },
}

fn keys_path(data_dir: &std::path::Path) -> PathBuf {
    let mut s = data_dir.as_os_str().to_owned();
    s.push(".keys.json");
    PathBuf::from(s)
}

/// Runs one scenario; returns its record (also printed, and appended to --json-out).
async fn run_one(a: &RunArgs, clients: usize) -> Result<Record, String> {
    let t = Target::new(&a.endpoint)?;
    let mut state = a.state.as_deref().map(setup::State::load).transpose()?;
    let keys = match &a.keys {
        Some(p) => seed::load_keys(p)?.sample,
        None => Vec::new(),
    };
    let mut rec = Record {
        label: a.label.clone(),
        endpoint: a.endpoint.clone(),
        scenario: a.scenario.name().to_owned(),
        clients,
        stats: load::Stats::default(),
        unsupported: None,
        failed: None,
    };
    let prepared = scenario::prepare(
        a.scenario,
        Inputs {
            target: &t,
            state: state.as_mut(),
            creds: a.creds.creds(),
            keys,
            clients,
        },
    )
    .await;
    if a.scenario == Scenario::Login {
        // The probe and the queued codes are spent: remember them whatever happens next.
        if let (Some(s), Some(p)) = (&state, &a.state) {
            s.save(p)?;
        }
    }
    let ready = match prepared {
        Ok(r) => Arc::new(r),
        Err(NotReady::Unsupported(why)) => {
            println!(
                "{} {}: not supported by {}: {why}",
                a.label,
                a.scenario.name(),
                a.endpoint
            );
            rec.unsupported = Some(why);
            return finish(a, rec);
        }
        Err(NotReady::Failed(why)) => {
            println!("{} {}: could not start: {why}", a.label, a.scenario.name());
            rec.failed = Some(why);
            return finish(a, rec);
        }
    };
    let mut conns = (0..clients)
        .map(|_| conn::Conn::new(&ready.target))
        .collect::<Result<Vec<_>, _>>()?;
    if a.warmup > 0.0 && a.scenario != Scenario::Login {
        load::drive(
            Arc::clone(&ready),
            &mut conns,
            Stop::Duration(Duration::from_secs_f64(a.warmup)),
            false,
        )
        .await;
    }
    let stop = match (a.requests, a.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) => Stop::Duration(Duration::from_secs_f64(d)),
        (None, None) => Stop::Duration(Duration::from_secs(10)),
    };
    rec.stats = load::drive(ready, &mut conns, stop, !a.quiet).await;
    let s = &rec.stats;
    println!(
        "{} {} clients={}: {} ops in {:.2} s = {:.0} ops/s; p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms; errors {}{}",
        a.label,
        a.scenario.name(),
        clients,
        s.ops,
        s.secs,
        s.rps,
        s.p50_ms,
        s.p99_ms,
        s.p999_ms,
        s.max_ms,
        s.errors,
        s.first_error
            .as_ref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    // As in the table's notes: only where an operation is more than one request.
    if s.requests > s.ops {
        println!(
            "  per request: {} requests; p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms",
            s.requests, s.req_p50_ms, s.req_p99_ms, s.req_p999_ms
        );
    }
    if let Some(pid) = a.server_pid {
        let (rss, hwm) = scale::rss_mib(pid);
        println!("server pid {pid}: VmRSS {rss:.0} MiB, VmHWM {hwm:.0} MiB");
    }
    finish(a, rec)
}

fn finish(a: &RunArgs, rec: Record) -> Result<Record, String> {
    if let Some(p) = &a.json_out {
        report::append(p, &rec)?;
    }
    Ok(rec)
}

fn argon2_rate(threads: usize, secs: f64, through_pool: bool) -> Result<f64, String> {
    use iamvault::clock::SystemRandom;
    use iamvault::model::SecretString;
    let pw = SecretString::new("Bench-pass-7f3!Qz".into());
    let phc = iamvault::auth::hash_password(
        &SystemRandom::new(),
        &pw,
        iamvault::auth::PasswordParams::default(),
    )
    .map_err(|e| e.to_string())?;
    let pool = iamvault::auth::HashPool::new(threads, iamvault::auth::PasswordParams::default());
    let verify = |pw: &SecretString, phc: &str| {
        if through_pool {
            pool.verify(pw, phc).unwrap_or(false)
        } else {
            iamvault::auth::verify_password(pw, phc)
        }
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let total: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0usize;
                    while Instant::now() < deadline {
                        if verify(&pw, &phc) {
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

async fn main_async(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Setup {
            endpoint,
            state,
            max_clients,
            login_users,
            creds,
        } => {
            let t = Target::new(&endpoint)?;
            let admin = creds
                .creds()
                .ok_or("setup needs the admin's --access-key-id and --secret-access-key (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")?;
            let started = Instant::now();
            let s = setup::setup(&t, &admin, max_clients, login_users).await?;
            s.save(&state)?;
            println!(
                "setup done in {:.1} s; state in {}",
                started.elapsed().as_secs_f64(),
                state.display()
            );
        }
        Cmd::Run(a) => {
            let rec = run_one(&a, a.clients).await?;
            if rec.failed.is_some() {
                return Err("the scenario could not run".into());
            }
        }
        Cmd::Sweep {
            run,
            clients_list,
            csv,
            png,
        } => {
            use std::io::Write as _;
            let new = !csv.exists();
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&csv)
                .map_err(|e| format!("cannot open `{}`: {e}", csv.display()))?;
            if new {
                writeln!(f, "{}", report::CSV_HEADER).map_err(|e| e.to_string())?;
            }
            for c in clients_list {
                let rec = run_one(&run, c).await?;
                if rec.unsupported.is_some() || rec.failed.is_some() {
                    break;
                }
                writeln!(f, "{}", report::csv_line(&rec)).map_err(|e| e.to_string())?;
            }
            drop(f);
            let rows = report::read_csv(&csv)?;
            match report::plot(&rows, &png, "Throughput against concurrent clients") {
                Ok(()) => println!("wrote {} and {}", csv.display(), png.display()),
                Err(e) => println!("wrote {}; {e}", csv.display()),
            }
        }
        Cmd::Table { results, a, b } => {
            print!("{}", report::table(&report::load(&results)?, &a, &b));
        }
        Cmd::Plot { csv, png, title } => {
            report::plot(&report::read_csv(&csv)?, &png, &title)?;
            println!("wrote {}", png.display());
        }
        Cmd::Seed {
            data_dir,
            users,
            keys_per_user,
            roles,
            policies,
            staging,
            sample,
            keys_out,
        } => {
            let keys_out = keys_out.unwrap_or_else(|| keys_path(&data_dir));
            let args = seed::SeedArgs {
                data_dir: data_dir.clone(),
                users,
                keys_per_user,
                roles,
                policies,
                staging,
                sample,
                keys_out: keys_out.clone(),
                quiet: false,
            };
            let k = tokio::task::spawn_blocking(move || seed::seed(&args))
                .await
                .map_err(|e| e.to_string())??;
            println!(
                "seeded {} users, {} access keys, {} roles, {} policies in {:.1} s (+ {:.1} s to copy to {}); keys in {}",
                k.users,
                k.access_keys,
                k.roles,
                k.policies,
                k.seconds_seed,
                k.seconds_copy,
                data_dir.display(),
                keys_out.display()
            );
        }
        Cmd::Scale {
            vaults,
            iamvault_bin,
            clients,
            duration,
            sample,
        } => {
            let mut vs = Vec::new();
            for v in vaults {
                let (label, dir) = v.split_once('=').ok_or("--vault takes LABEL=DATA_DIR")?;
                let dir = PathBuf::from(dir);
                let k = keys_path(&dir);
                vs.push((label.to_owned(), dir, k));
            }
            let args = scale::ScaleArgs {
                vaults: vs,
                bin: iamvault_bin,
                clients,
                duration,
                sample,
            };
            let figs = scale::scale(&args).await?;
            print!("{}", scale::print(&figs, clients));
        }
        Cmd::Argon2Rate {
            threads,
            secs,
            pool,
        } => {
            let r = tokio::task::spawn_blocking(move || argon2_rate(threads, secs, pool))
                .await
                .map_err(|e| e.to_string())??;
            let how = if pool { "through the hash pool" } else { "raw" };
            println!(
                "{how} argon2id verify (m=19456 KiB, t=2, p=1) on {threads} threads: {r:.1} /s"
            );
        }
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(main_async(cli)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
