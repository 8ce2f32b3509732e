//! Host keys: load the configured ones, or create `id_ed25519` and `id_rsa` in the
//! config dir on first start (mode 0600).

use std::path::{Path, PathBuf};

use russh::keys::PrivateKey;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData, RsaKeypair};

/// RSA size for generated host keys.
const RSA_BITS: usize = 3072;

/// Loads (or generates) the host keys.
pub fn load_or_generate(
    config_dir: &Path,
    configured: &[String],
) -> Result<Vec<PrivateKey>, String> {
    if !configured.is_empty() {
        return configured
            .iter()
            .map(|p| {
                let path = resolve(config_dir, p);
                russh::keys::load_secret_key(&path, None)
                    .map_err(|e| format!("sftpd.host_keys: cannot load {}: {e}", path.display()))
            })
            .collect();
    }
    let mut keys = Vec::new();
    for (name, generate) in [
        (
            "id_ed25519",
            gen_ed25519 as fn() -> Result<PrivateKey, String>,
        ),
        ("id_rsa", gen_rsa),
    ] {
        let path = config_dir.join(name);
        if !path.exists() {
            let key = generate()?;
            write_key(&path, &key)?;
            tracing::info!(path = %path.display(), "generated host key");
        }
        keys.push(
            russh::keys::load_secret_key(&path, None)
                .map_err(|e| format!("cannot load host key {}: {e}", path.display()))?,
        );
    }
    Ok(keys)
}

fn resolve(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

fn gen_ed25519() -> Result<PrivateKey, String> {
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    let kp = Ed25519Keypair::from_seed(&seed);
    PrivateKey::new(KeypairData::Ed25519(kp), "").map_err(|e| e.to_string())
}

fn gen_rsa() -> Result<PrivateKey, String> {
    let kp = RsaKeypair::random(&mut rand::rng(), RSA_BITS).map_err(|e| e.to_string())?;
    PrivateKey::new(KeypairData::Rsa(kp), "").map_err(|e| e.to_string())
}

fn write_key(path: &Path, key: &PrivateKey) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| format!("cannot encode host key: {e}"))?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    f.write_all(pem.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let pubkey = key
        .public_key()
        .to_openssh()
        .map_err(|e| format!("cannot encode public key: {e}"))?;
    let _ = std::fs::write(path.with_extension("pub"), format!("{pubkey}\n"));
    Ok(())
}
