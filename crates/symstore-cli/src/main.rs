//! `symstore`: the operators' command-line tool for symstore.
//!
//! `symstore check` tells, step by step, why a bucket does not connect; `put`, `get`, `ls`,
//! `stat`, `rm` and `gc` work on the configured store. Run `symstore --help` for the
//! commands and the exit codes.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rustdoc::broken_intra_doc_links)]

mod check;
mod cli;
mod exit;
mod objects;
mod store;
mod transfer;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::OTHER);
        }
    };
    let code = runtime.block_on(run(cli));
    ExitCode::from(code)
}

/// Runs one command; returns the exit code, having printed any error to stderr.
async fn run(cli: Cli) -> u8 {
    let outcome = match cli.command {
        Command::Check { json, explain } => {
            if explain {
                print!("{}", check::troubleshooting_markdown());
                return exit::OK;
            }
            return check::run(cli.config.as_deref(), json).await;
        }
        Command::Gc { older_than, prefix } => {
            objects::gc(cli.config.as_deref(), &prefix, older_than).await
        }
        command => match store::open(cli.config.as_deref()).await {
            Ok(store) => match command {
                Command::Put { file, key } => transfer::put(&*store, &file, &key).await,
                Command::Get { key, file, range } => {
                    transfer::get(&*store, &key, &file, range).await
                }
                Command::Ls { prefix, long, json } => {
                    objects::ls(&*store, &prefix, long, json).await
                }
                Command::Stat { key, json } => objects::stat(&*store, &key, json).await,
                Command::Rm { keys } => objects::rm(&*store, &keys).await,
                Command::Check { .. } | Command::Gc { .. } => unreachable!("handled above"),
            },
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(()) => exit::OK,
        Err(error) => {
            eprintln!("error: {error}");
            exit::for_error(&error)
        }
    }
}
