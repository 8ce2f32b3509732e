//! Command line: SFTPGo's subcommands and flags, each flag also read from its `SFTPGO_*`
//! environment variable.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// SFTP, SCP and SSH-command server compatible with SFTPGo.
#[derive(Parser, Debug)]
#[command(name = "sftpgo", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Flags shared by every command that reads the configuration.
#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// Directory holding the configuration file, host keys and the SQLite database.
    #[arg(
        short = 'c',
        long = "config-dir",
        env = "SFTPGO_CONFIG_DIR",
        default_value = "."
    )]
    pub config_dir: PathBuf,
    /// Configuration file name (relative to the config dir) instead of sftpgo.{json,toml,yaml}.
    #[arg(long = "config-file", env = "SFTPGO_CONFIG_FILE")]
    pub config_file: Option<String>,
    /// Log file path; an empty value logs to stderr.
    #[arg(
        short = 'l',
        long = "log-file-path",
        env = "SFTPGO_LOG_FILE_PATH",
        default_value = "sftpgo.log"
    )]
    pub log_file_path: String,
    /// Log level: debug, info, warn, error.
    #[arg(long = "log-level", env = "SFTPGO_LOG_LEVEL", default_value = "debug")]
    pub log_level: String,
    /// Log times in UTC (they always are; accepted for compatibility).
    #[arg(long = "log-utc-time", env = "SFTPGO_LOG_UTC_TIME")]
    pub log_utc_time: bool,
    /// Log rotation: maximum size in MB (accepted; rotation is not implemented yet).
    #[arg(
        short = 's',
        long = "log-max-size",
        env = "SFTPGO_LOG_MAX_SIZE",
        default_value_t = 10
    )]
    pub log_max_size: u32,
    /// Log rotation: backups to keep (accepted; not implemented yet).
    #[arg(
        short = 'b',
        long = "log-max-backups",
        env = "SFTPGO_LOG_MAX_BACKUPS",
        default_value_t = 5
    )]
    pub log_max_backups: u32,
    /// Log rotation: days to keep (accepted; not implemented yet).
    #[arg(
        short = 'a',
        long = "log-max-age",
        env = "SFTPGO_LOG_MAX_AGE",
        default_value_t = 28
    )]
    pub log_max_age: u32,
    /// Log rotation: compress backups (accepted; not implemented yet).
    #[arg(short = 'z', long = "log-compress", env = "SFTPGO_LOG_COMPRESS")]
    pub log_compress: bool,
}

/// Flags that load a dump at start.
#[derive(Args, Debug, Clone)]
pub struct LoadDataArgs {
    /// SFTPGo JSON dump to load at start.
    #[arg(long = "loaddata-from", env = "SFTPGO_LOADDATA_FROM")]
    pub loaddata_from: Option<PathBuf>,
    /// 0 add new and update existing objects, 1 add new only, 2 as 0 and disconnect users.
    #[arg(
        long = "loaddata-mode",
        env = "SFTPGO_LOADDATA_MODE",
        default_value_t = 1
    )]
    pub loaddata_mode: i64,
    /// Remove the dump file after a successful load.
    #[arg(long = "loaddata-clean", env = "SFTPGO_LOADDATA_CLEAN")]
    pub loaddata_clean: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the server.
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        load: LoadDataArgs,
        /// Seconds to wait for open sessions on shutdown.
        #[arg(long = "grace-time", env = "SFTPGO_GRACE_TIME", default_value_t = 0)]
        grace_time: u64,
    },
    /// Create or upgrade the data provider schema (and optionally load a dump).
    Initprovider {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        load: LoadDataArgs,
    },
    /// Take the data provider's schema back to an older version (data the older
    /// schema cannot hold is dropped). Not for the memory provider.
    Revertprovider {
        #[command(flatten)]
        config: ConfigArgs,
        /// Schema version to go back to (1: users only).
        #[arg(long = "to-version", default_value_t = 1)]
        to_version: i64,
        /// Revert even though objects the older schema cannot hold (groups, folders,
        /// admins, ...) exist and will be dropped.
        #[arg(long)]
        force: bool,
    },
    /// Drop every table of the data provider.
    Resetprovider {
        #[command(flatten)]
        config: ConfigArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Generate shell completions or man pages.
    Gen {
        #[command(subcommand)]
        what: GenCommand,
    },
}

#[derive(Subcommand, Debug)]
enum GenCommand {
    /// Shell completion script.
    Completion {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Man pages.
    Man {
        /// Output directory.
        #[arg(short = 'd', long = "dir", default_value = "man")]
        dir: PathBuf,
    },
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            config,
            load,
            grace_time,
        } => crate::serve::serve(&config, &load, grace_time),
        Command::Initprovider { config, load } => {
            crate::provider_cmds::init_provider(&config, &load)
        }
        Command::Resetprovider { config, force } => {
            crate::provider_cmds::reset_provider(&config, force)
        }
        Command::Revertprovider {
            config,
            to_version,
            force,
        } => crate::provider_cmds::revert_provider(&config, to_version, force),
        Command::Gen { what } => generate(what),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(what: GenCommand) -> Result<(), String> {
    let mut cmd = Cli::command();
    match what {
        GenCommand::Completion { shell } => {
            clap_complete::generate(shell, &mut cmd, "sftpgo", &mut std::io::stdout());
            Ok(())
        }
        GenCommand::Man { dir } => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .map_err(|e| format!("cannot write man pages: {e}"))?;
            println!("man pages written to {}", dir.display());
            Ok(())
        }
    }
}
