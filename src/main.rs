//! `sftpgo`: the composition root. Parses the command line, loads the configuration,
//! wires the data provider, the storage factory and the protocol workers, and handles
//! signals. All behaviour lives in the member crates.

mod cli;
mod config;
mod fs_factory;
mod logging;
mod outbound;
mod provider_cmds;
mod serve;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
