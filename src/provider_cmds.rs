//! The data provider at start and in the provider commands: open (and create or upgrade
//! the schema), load a dump, create the default admin; `initprovider`,
//! `revertprovider` and `resetprovider`.

use std::sync::Arc;

use sftpgo_core::catalog::Catalog;
use sftpgo_core::dump::{Dump, LoadMode};
use sftpgo_core::kms::Kms;
use sftpgo_core::model::{Admin, NamingRules};
use sftpgo_core::store::{Kind, ListQuery};
use sftpgo_providers::Provider;

use crate::cli::{ConfigArgs, LoadDataArgs};
use crate::config::AppConfig;
use crate::serve::{setup, side_runtime};

/// Opens the configured provider, creating or upgrading its schema when `init` or
/// `update_mode` 0 ask for it; returns the catalog over it with the configured naming
/// rules.
pub async fn open(cfg: &AppConfig, args: &ConfigArgs, init: bool) -> Result<Catalog, String> {
    let provider = sftpgo_providers::open(&cfg.data_provider, &args.config_dir)
        .await
        .map_err(|e| e.to_string())?;
    if init || cfg.data_provider.update_mode == 0 {
        provider.initialize().await.map_err(|e| e.to_string())?;
    } else if provider.schema_version().await.map_err(|e| e.to_string())? == 0 {
        return Err("the data provider is not initialized: run `sftpgo initprovider`".into());
    }
    let provider: Arc<dyn Provider> = provider;
    let kms = Kms::from_config(&cfg.kms, &args.config_dir).map_err(|e| e.message)?;
    let catalog = Catalog::new(provider, NamingRules(cfg.data_provider.naming_rules)).with_kms(kms);
    load_memory_dump(cfg, args, &catalog).await?;
    Ok(catalog)
}

/// The memory driver starts from the dump named in `data_provider.name`, if that file
/// exists (SFTPGo's behaviour), loaded with the configured naming rules and KMS.
async fn load_memory_dump(
    cfg: &AppConfig,
    args: &ConfigArgs,
    catalog: &Catalog,
) -> Result<(), String> {
    if cfg.data_provider.driver != sftpgo_providers::Driver::Memory
        || cfg.data_provider.name.is_empty()
    {
        return Ok(());
    }
    let path = args.config_dir.join(&cfg.data_provider.name);
    if !path.is_file() {
        return Ok(());
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let dump = Dump::from_json(&bytes).map_err(|e| format!("{}: {}", path.display(), e.message))?;
    dump.load(catalog, LoadMode::AddUpdate)
        .await
        .map_err(|e| format!("{}: {}", path.display(), e.message))?;
    tracing::info!(file = %path.display(), "memory provider loaded its dump");
    Ok(())
}

/// Loads the dump named by `--loaddata-from`, if any.
pub async fn load_data(catalog: &Catalog, load: &LoadDataArgs) -> Result<(), String> {
    let Some(path) = &load.loaddata_from else {
        return Ok(());
    };
    let mode = LoadMode::try_from(load.loaddata_mode).map_err(|e| e.message)?;
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read dump {}: {e}", path.display()))?;
    let dump = Dump::from_json(&bytes).map_err(|e| format!("{}: {}", path.display(), e.message))?;
    let report = dump
        .load(catalog, mode)
        .await
        .map_err(|e| format!("{}: {}", path.display(), e.message))?;
    tracing::info!(file = %path.display(), added = report.added, updated = report.updated,
        skipped = report.skipped, "dump loaded");
    for what in &report.unsupported {
        tracing::warn!(file = %path.display(), "dump section {what:?} is not known and was not loaded");
    }
    if load.loaddata_clean {
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove dump {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `create_default_admin`: when no admin exists, creates one with every permission,
/// named by `SFTPGO_DEFAULT_ADMIN_USERNAME` (default `admin`) and with the password
/// `SFTPGO_DEFAULT_ADMIN_PASSWORD` (default `password`, as SFTPGo; change it).
pub async fn ensure_default_admin(cfg: &AppConfig, catalog: &Catalog) -> Result<(), String> {
    if !cfg.data_provider.create_default_admin {
        return Ok(());
    }
    let any = catalog
        .list::<Admin>(ListQuery {
            limit: 1,
            ..ListQuery::default()
        })
        .await
        .map_err(|e| e.message)?;
    if !any.is_empty() {
        return Ok(());
    }
    let env = |k: &str, default: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    let admin = Admin {
        username: env("SFTPGO_DEFAULT_ADMIN_USERNAME", "admin"),
        password: env("SFTPGO_DEFAULT_ADMIN_PASSWORD", "password"),
        permissions: vec!["*".into()],
        ..Admin::default()
    };
    let created = catalog
        .add(&admin)
        .await
        .map_err(|e| format!("create_default_admin: {}", e.message))?;
    tracing::info!(username = %created.username, "default admin created");
    Ok(())
}

/// `sftpgo initprovider`.
pub fn init_provider(args: &ConfigArgs, load: &LoadDataArgs) -> Result<(), String> {
    let cfg = setup(args)?;
    side_runtime()?.block_on(async {
        let catalog = open(&cfg, args, true).await?;
        load_data(&catalog, load).await?;
        ensure_default_admin(&cfg, &catalog).await?;
        tracing::info!("data provider initialized");
        println!("Data provider successfully initialized/updated");
        Ok(())
    })
}

/// `sftpgo revertprovider --to-version N`.
pub fn revert_provider(args: &ConfigArgs, to_version: i64, force: bool) -> Result<(), String> {
    let cfg = setup(args)?;
    side_runtime()?.block_on(async {
        let provider = sftpgo_providers::open(&cfg.data_provider, &args.config_dir)
            .await
            .map_err(|e| e.to_string())?;
        if !force && provider.schema_version().await.map_err(|e| e.to_string())? >= 2 {
            let mut held = Vec::new();
            for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::User) {
                let any = provider
                    .list(
                        kind,
                        ListQuery {
                            limit: 1,
                            ..ListQuery::default()
                        },
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if !any.is_empty() {
                    held.push(kind.label());
                }
            }
            if !held.is_empty() {
                return Err(format!(
                    "schema {to_version} holds only users: reverting would drop every {}; \
                     re-run with --force to do it anyway",
                    held.join(", ")
                ));
            }
        }
        provider
            .revert(to_version)
            .await
            .map_err(|e| e.to_string())?;
        println!("Data provider successfully reverted to schema version {to_version}");
        Ok(())
    })
}

/// `sftpgo resetprovider --force`.
pub fn reset_provider(args: &ConfigArgs, force: bool) -> Result<(), String> {
    if !force {
        return Err("resetprovider drops all data: re-run with --force to confirm".into());
    }
    let cfg = setup(args)?;
    side_runtime()?.block_on(async {
        let provider = sftpgo_providers::open(&cfg.data_provider, &args.config_dir)
            .await
            .map_err(|e| e.to_string())?;
        provider.reset().await.map_err(|e| e.to_string())?;
        println!("Data provider successfully reset");
        Ok(())
    })
}
