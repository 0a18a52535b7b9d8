//! The `wirecheck` binary: parses the command line, runs the subcommand, maps the outcome to a
//! stable exit code (see `wirecheck::cli::exit`: 0 pass, 1 check failed, 2 bad input, 3 target
//! unreachable, 4 nothing ran, 5 a case could not be run, 130 interrupted).

use std::process::ExitCode;

use clap::Parser;
use wirecheck::cli::{Cli, Command, exit};

/// mimalloc: a run or a fuzz campaign allocates many small transcript values per message, and
/// mimalloc does that in well under the time of the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WIRECHECK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let outcome: anyhow::Result<u8> = runtime.block_on(async {
        let r = match &cli.command {
            Command::Run(a) => wirecheck::cli::run::run(a).await,
            Command::Audit(a) => wirecheck::cli::audit::audit(a).await,
            Command::List(a) => wirecheck::cli::list::list(a),
            Command::Serve(a) => wirecheck::cli::serve::serve(a).await,
            Command::Coverage(a) => wirecheck::cli::coverage::coverage(a),
            Command::Fuzz(a) => wirecheck::cli::fuzz::fuzz(a).await,
            Command::Merge(a) => wirecheck::cli::merge::merge(a),
        };
        match r {
            Ok(code) => Ok(code),
            Err(e) => {
                // Written without eprintln!: a closed stderr (`2>&1 | head`) must not panic.
                use std::io::Write;
                let text = e.to_string();
                let prefix = if text.starts_with("error:") {
                    ""
                } else {
                    "error: "
                };
                let _ = writeln!(std::io::stderr(), "{prefix}{text}");
                Ok(e.code())
            }
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}
