//! Configuration loading tests: files in three formats, env overrides, key checks.

use super::*;

fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>()
        .into_iter()
}

#[test]
fn defaults_match_sftpgo() {
    let dir = tempfile::tempdir().unwrap();
    let l = load_with_env(dir.path(), None, env(&[])).unwrap();
    assert_eq!(l.config.sftpd.bindings[0].port, 2022);
    assert_eq!(l.config.data_provider.name, "sftpgo.db");
    assert_eq!(l.config.common.idle_timeout, 15);
    assert!(l.file.is_none());
}

#[test]
fn env_overrides_nested_lists_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let l = load_with_env(
        dir.path(),
        None,
        env(&[
            ("SFTPGO_SFTPD__BINDINGS__0__PORT", "2200"),
            ("SFTPGO_SFTPD__BINDINGS__1__PORT", "2201"),
            (
                "SFTPGO_SFTPD__ENABLED_SSH_COMMANDS",
                "md5sum, sha256sum,scp",
            ),
            ("SFTPGO_DATA_PROVIDER__NAME", "/var/lib/sftpgo/db.sqlite"),
            ("SFTPGO_HTTPD__BINDINGS__0__PORT", "9999"),
            ("SFTPGO_FTPD__BINDINGS__0__PORT", "2121"),
            ("SFTPGO_WEBDAVD__BINDINGS__0__PORT", "8090"),
            ("SFTPGO_TELEMETRY__BIND_PORT", "10000"),
            ("SFTPGO_CONFIG_DIR", "/ignored"),
        ]),
    )
    .unwrap();
    let ports: Vec<u16> = l.config.sftpd.bindings.iter().map(|b| b.port).collect();
    assert_eq!(ports, [2200, 2201]);
    assert_eq!(
        l.config.sftpd.enabled_ssh_commands,
        ["md5sum", "sha256sum", "scp"]
    );
    assert_eq!(l.config.data_provider.name, "/var/lib/sftpgo/db.sqlite");
    assert_eq!(l.config.httpd.bindings[0].port, 9999);
    assert_eq!(l.config.ftpd.bindings[0].port, 2121);
    assert_eq!(l.config.webdavd.bindings[0].port, 8090);
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("SFTPGO_TELEMETRY__BIND_PORT"))
    );
}

#[test]
fn bad_env_value_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_with_env(
        dir.path(),
        None,
        env(&[("SFTPGO_COMMON__IDLE_TIMEOUT", "soon")]),
    )
    .err()
    .unwrap();
    assert!(err.contains("SFTPGO_COMMON__IDLE_TIMEOUT"), "{err}");
}

#[test]
fn unknown_file_key_is_an_error_and_sftpgo_keys_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sftpgo.json"),
        r#"{"sftpd": {"bogus_key": 1, "keyboard_interactive_authentication": true}}"#,
    )
    .unwrap();
    let err = load_with_env(dir.path(), None, env(&[])).err().unwrap();
    assert!(err.contains("sftpd.bogus_key"), "{err}");
    std::fs::write(
        dir.path().join("sftpgo.json"),
        r#"{"sftpd": {"keyboard_interactive_authentication": true, "bindings": [{"port": 2300}]},
            "ftpd": {"bindings": [{"port": 2121, "tls_cipher_suites": ["TLS_RSA_WITH_AES_128_CBC_SHA"]}]},
            "webdavd": {"bindings": [{"port": 0, "disable_www_auth_header": true}]},
            "telemetry": {"bind_port": 10000}}"#,
    )
    .unwrap();
    let l = load_with_env(dir.path(), None, env(&[])).unwrap();
    assert_eq!(l.config.sftpd.bindings[0].port, 2300);
    assert_eq!(l.config.sftpd.bindings[0].address, "");
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("keyboard_interactive_authentication"))
    );
    assert_eq!(l.config.ftpd.bindings[0].port, 2121);
    assert_eq!(l.config.ftpd.passive_port_range.start, 50000);
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("webdavd.bindings[].disable_www_auth_header"))
    );
    assert!(l.warnings.iter().any(|w| w.contains("telemetry")));
}

#[test]
fn ftpd_values_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, expected) in [
        (
            r#"{"ftpd": {"bindings": [{"port": 21, "tls_mode": 3}]}}"#,
            "tls_mode",
        ),
        (
            r#"{"ftpd": {"bindings": [{"port": 21, "tls_mode": 1}]}}"#,
            "certificate",
        ),
        (
            r#"{"ftpd": {"passive_port_range": {"start": 60000, "end": 50000}}}"#,
            "passive_port_range",
        ),
        (
            r#"{"ftpd": {"bindings": [{"port": 21, "force_passive_ip": "::1"}]}}"#,
            "force_passive_ip",
        ),
    ] {
        std::fs::write(dir.path().join("sftpgo.json"), bad).unwrap();
        let err = load_with_env(dir.path(), None, env(&[])).err().unwrap();
        assert!(err.contains(expected), "{bad}: {err}");
    }
}

#[test]
fn toml_and_yaml_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sftpgo.toml"),
        "[common]\nupload_mode = 1\n",
    )
    .unwrap();
    let l = load_with_env(dir.path(), None, env(&[])).unwrap();
    assert_eq!(
        l.config.common.upload_mode,
        sftpgo_core::config::UploadMode::Atomic
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sftpgo.yaml"),
        "common:\n  upload_mode: 7\n",
    )
    .unwrap();
    let err = load_with_env(dir.path(), None, env(&[])).err().unwrap();
    assert!(err.contains("common.upload_mode"), "{err}");
}

#[test]
fn channel_window_and_packet_size_are_configurable_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let l = load_with_env(
        dir.path(),
        None,
        env(&[
            ("SFTPGO_SFTPD__CHANNEL_WINDOW_SIZE", "4194304"),
            ("SFTPGO_SFTPD__CHANNEL_MAX_PACKET_SIZE", "65536"),
        ]),
    )
    .unwrap();
    assert_eq!(l.config.sftpd.channel_window_size, 4 << 20);
    let russh = l.config.sftpd.russh_config(Vec::new(), 0, None);
    assert_eq!(russh.window_size, 4 << 20);
    assert_eq!(russh.maximum_packet_size, 65536);
    let err = load_with_env(
        dir.path(),
        None,
        env(&[("SFTPGO_SFTPD__CHANNEL_MAX_PACKET_SIZE", "1048576")]),
    )
    .err()
    .unwrap();
    assert!(err.contains("channel_max_packet_size"), "{err}");
}

#[test]
fn password_hashing_and_caching_keys() {
    let dir = tempfile::tempdir().unwrap();
    let l = load_with_env(dir.path(), None, env(&[])).unwrap();
    assert_eq!(
        l.config.data_provider.password_hashing.algo,
        sftpgo_core::password::HashAlgo::Argon2id
    );
    assert!(l.config.data_provider.password_caching);
    let l = load_with_env(
        dir.path(),
        None,
        env(&[
            ("SFTPGO_DATA_PROVIDER__PASSWORD_HASHING__ALGO", "bcrypt"),
            (
                "SFTPGO_DATA_PROVIDER__PASSWORD_HASHING__BCRYPT_OPTIONS__COST",
                "12",
            ),
            ("SFTPGO_DATA_PROVIDER__PASSWORD_CACHING", "false"),
        ]),
    )
    .unwrap();
    let h = l.config.data_provider.password_hashing;
    assert_eq!(h.algo, sftpgo_core::password::HashAlgo::Bcrypt);
    assert_eq!(h.bcrypt_options.cost, 12);
    assert!(!l.config.data_provider.password_caching);
    assert!(
        !l.warnings.iter().any(|w| w.contains("password_hashing")),
        "{:?}",
        l.warnings
    );
    let err = load_with_env(
        dir.path(),
        None,
        env(&[(
            "SFTPGO_DATA_PROVIDER__PASSWORD_HASHING__BCRYPT_OPTIONS__COST",
            "99",
        )]),
    )
    .err()
    .unwrap();
    assert!(err.contains("bcrypt_options.cost"), "{err}");
}

#[test]
fn busy_polling_is_on_by_default_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let l = load_with_env(dir.path(), None, env(&[])).unwrap();
    assert_eq!(l.config.common.busy_poll_us, 100);
    let l = load_with_env(
        dir.path(),
        None,
        env(&[("SFTPGO_COMMON__BUSY_POLL_US", "0")]),
    )
    .unwrap();
    assert_eq!(l.config.common.busy_poll_us, 0);
    let err = load_with_env(
        dir.path(),
        None,
        env(&[("SFTPGO_COMMON__BUSY_POLL_US", "10001")]),
    )
    .err()
    .unwrap();
    assert!(err.contains("busy_poll_us"), "{err}");
}
