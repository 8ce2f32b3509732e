//! Shared harness for the black-box integration tests.
//!
//! Each test starts its own `sftpgo serve` in a private temp dir, on a free loopback port,
//! with users loaded from a dump file, and drives the real OpenSSH clients (ssh, sftp, scp)
//! and paramiko against it. Every client command runs with a deadline, so a hang fails the
//! test instead of blocking the suite. When a test panics, the server's last log lines are
//! printed.
#![allow(dead_code)]

pub mod api;
pub mod dav;
pub mod ftp;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sftpgo");
/// Password of every user the harness creates.
pub const PASSWORD: &str = "secret-pass-1";
/// The user every server gets.
pub const USER: &str = "alice";
pub const MIB: usize = 1024 * 1024;
/// Deadline of an ordinary client command.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// Deadline of a client command moving 100 MiB (the server may be a debug build).
pub const BIG_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the server may take to accept connections and send its banner.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_TAIL_LINES: usize = 50;
const INSTALL_HINT: &str =
    "install the test clients with `sudo bash scripts/install-test-deps.sh` (CI runs it)";

static BATCH_COUNTER: AtomicUsize = AtomicUsize::new(0);

// ------------------------------------------------------------------------------ client tools

/// Full path of `name` if it is an executable on PATH.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Fails the test (with the install hint) when a client tool is missing.
#[track_caller]
pub fn require_tools(names: &[&str]) {
    for name in names {
        assert!(
            find_tool(name).is_some(),
            "required client `{name}` is not on PATH: {INSTALL_HINT}"
        );
    }
}

/// Fails the test when python3 or its paramiko module is missing.
#[track_caller]
pub fn require_paramiko() {
    require_tools(&["python3"]);
    let out = run(
        Command::new("python3").args(["-c", "import paramiko"]),
        CLIENT_TIMEOUT,
    );
    assert!(
        out.success(),
        "python3 cannot import paramiko: {INSTALL_HINT}\n{}",
        out.report()
    );
}

// ------------------------------------------------------------------------ running commands

/// Result of a command run with a deadline.
pub struct CmdOutput {
    pub desc: String,
    /// `None` when the command was killed at its deadline.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// Human readable summary for assertion messages.
    pub fn report(&self) -> String {
        let status = match self.status {
            Some(s) => s.to_string(),
            None => format!("KILLED after {:?} (deadline reached)", self.elapsed),
        };
        format!(
            "command: {}\nstatus: {status}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.desc,
            clip(&self.stdout),
            clip(&self.stderr)
        )
    }

    #[track_caller]
    pub fn assert_ok(&self, what: &str) -> &Self {
        assert!(
            self.success(),
            "{what}: expected success\n{}",
            self.report()
        );
        self
    }

    /// The command must fail on its own: a non-zero exit, not a hang.
    #[track_caller]
    pub fn assert_refused(&self, what: &str) -> &Self {
        assert!(
            !self.timed_out(),
            "{what}: hung instead of failing\n{}",
            self.report()
        );
        assert!(
            !self.success(),
            "{what}: expected a failure\n{}",
            self.report()
        );
        self
    }

    /// Like `assert_refused`, plus an error message on stderr.
    #[track_caller]
    pub fn assert_refused_with_message(&self, what: &str) -> &Self {
        self.assert_refused(what);
        assert!(
            !self.stderr.trim().is_empty(),
            "{what}: no error message on stderr\n{}",
            self.report()
        );
        self
    }
}

fn clip(text: &str) -> String {
    const MAX: usize = 8000;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut cut = text.len() - MAX;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    format!("[... {cut} bytes cut ...]{}", &text[cut..])
}

fn describe(cmd: &Command) -> String {
    let mut desc = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        desc.push(' ');
        desc.push_str(&arg.to_string_lossy());
    }
    desc
}

fn spawn_reader<R: Read + Send + 'static>(
    mut src: R,
    tx: mpsc::Sender<(bool, Vec<u8>)>,
    out: bool,
) {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = src.read_to_end(&mut buf);
        let _ = tx.send((out, buf));
    });
}

fn kill_process_group(child: &mut Child) {
    // The child leads its own process group, so sftp/scp and the ssh they spawn die together.
    let _ = Command::new("sh")
        .args(["-c", &format!("kill -9 -{} 2>/dev/null", child.id())])
        .status();
    let _ = child.kill();
}

/// Runs `cmd` (stdin = /dev/null), capturing its output; kills it at the deadline.
pub fn run(cmd: &mut Command, timeout: Duration) -> CmdOutput {
    let desc = describe(cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{desc}`: {e}"));
    let (tx, rx) = mpsc::channel();
    spawn_reader(child.stdout.take().expect("piped stdout"), tx.clone(), true);
    spawn_reader(child.stderr.take().expect("piped stderr"), tx, false);
    let deadline = start + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_process_group(&mut child);
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for `{desc}`: {e}"),
        }
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        // A leftover grandchild could keep a pipe open: do not wait for it forever.
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok((true, buf)) => stdout = buf,
            Ok((false, buf)) => stderr = buf,
            Err(_) => {
                kill_process_group(&mut child);
                break;
            }
        }
    }
    CmdOutput {
        desc,
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Generates an unencrypted ed25519 key pair; returns (private key path, public key line).
pub fn gen_key(dir: &Path, name: &str) -> (PathBuf, String) {
    require_tools(&["ssh-keygen"]);
    let path = dir.join(name);
    run(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "sftpgo-e2e", "-f"])
            .arg(&path),
        CLIENT_TIMEOUT,
    )
    .assert_ok("ssh-keygen");
    let pub_path = dir.join(format!("{name}.pub"));
    let public = fs::read_to_string(&pub_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", pub_path.display()));
    (path, public.trim().to_string())
}

/// Options every OpenSSH client invocation gets (port flag excluded: ssh uses -p, the others -P).
pub fn ssh_client_opts(key: &Path) -> Vec<OsString> {
    let mut opts: Vec<OsString> = [
        "-F",
        "/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "PreferredAuthentications=publickey",
        "-o",
        "ConnectTimeout=20",
        "-i",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    opts.push(key.as_os_str().to_owned());
    opts
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Removes inherited SFTPGO_* variables so the developer's environment cannot leak in.
fn clean_sftpgo_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SFTPGO_") {
            cmd.env_remove(&key);
        }
    }
}

/// A `Command` for the sftpgo binary with a clean SFTPGO_* environment.
pub fn sftpgo_cmd() -> Command {
    let mut cmd = Command::new(BIN);
    clean_sftpgo_env(&mut cmd);
    cmd
}

// ----------------------------------------------------------------------------------- data

/// Deterministic pseudo-random bytes (xorshift64), fast enough for 100 MiB.
pub fn pattern_data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = vec![0u8; len];
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    out
}

/// Writes `pattern_data(len, seed)` to `path` (creating parent dirs) and returns it.
pub fn write_data(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    let data = pattern_data(len, seed);
    write_file(path, &data);
    data
}

pub fn write_file(path: &Path, data: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    }
    fs::write(path, data).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Byte-compares a file with the expected content without dumping megabytes on failure.
#[track_caller]
pub fn assert_file_eq(path: &Path, expected: &[u8], what: &str) {
    let actual =
        fs::read(path).unwrap_or_else(|e| panic!("{what}: cannot read {}: {e}", path.display()));
    if actual == expected {
        return;
    }
    let first_diff = actual.iter().zip(expected).position(|(a, b)| a != b);
    panic!(
        "{what}: {} differs from the expected content (size {} vs expected {}, first differing \
         byte: {first_diff:?})",
        path.display(),
        actual.len(),
        expected.len()
    );
}

/// Both directory trees hold the same entries and file contents.
#[track_caller]
pub fn assert_trees_eq(expected: &Path, actual: &Path) {
    let names = |dir: &Path| -> Vec<OsString> {
        let mut v: Vec<OsString> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|entry| entry.expect("dir entry").file_name())
            .collect();
        v.sort();
        v
    };
    let expected_names = names(expected);
    assert!(actual.is_dir(), "{} is not a directory", actual.display());
    assert_eq!(
        expected_names,
        names(actual),
        "entries of {} vs {}",
        expected.display(),
        actual.display()
    );
    for name in expected_names {
        let (e, a) = (expected.join(&name), actual.join(&name));
        if e.is_dir() {
            assert_trees_eq(&e, &a);
        } else {
            let data = fs::read(&e).unwrap_or_else(|err| panic!("read {}: {err}", e.display()));
            assert_file_eq(&a, &data, "tree copy");
        }
    }
}

/// First field of `<tool> <path>` (coreutils sha256sum & co.) on a local file.
pub fn local_digest(tool: &str, path: &Path) -> String {
    require_tools(&[tool]);
    let out = run(Command::new(tool).arg(path), CLIENT_TIMEOUT);
    out.assert_ok(tool);
    out.stdout
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

pub fn set_mtime(path: &Path, secs: u64) {
    let file = fs::File::options()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

pub fn mtime_secs(path: &Path) -> u64 {
    let modified = fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("mtime of {}: {e}", path.display()));
    modified
        .duration_since(UNIX_EPOCH)
        .expect("mtime after 1970")
        .as_secs()
}

pub fn now_millis() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(elapsed.as_millis()).expect("millis fit in i64")
}

pub fn tail_lines(path: &Path, n: usize) -> String {
    let text = fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub fn paramiko_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("paramiko_ext.py")
}

// --------------------------------------------------------------------------------- server

/// Collects users and environment for one server; `start()` launches it.
pub struct ServerBuilder {
    tmp: TempDir,
    env: Vec<(String, String)>,
    users: Vec<Value>,
    sections: serde_json::Map<String, Value>,
    client_key: PathBuf,
    client_pub: String,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerBuilder {
    /// Layout of the temp dir: `cfg/` (config dir: dump.json, sftpgo.db, host keys),
    /// `homes/<user>/` (home dirs, not created up front), `local/` (clients' working dir),
    /// `keys/` (client keys), `server.log` (server stdout + stderr).
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("sftpgo-e2e-")
            .tempdir()
            .expect("temp dir");
        for dir in ["cfg", "homes", "local", "keys"] {
            fs::create_dir_all(tmp.path().join(dir)).expect("create temp subdir");
        }
        let (client_key, client_pub) = gen_key(&tmp.path().join("keys"), "client_key");
        Self {
            tmp,
            env: Vec::new(),
            users: Vec::new(),
            sections: serde_json::Map::new(),
            client_key,
            client_pub,
        }
        .user(USER, |_| {})
    }

    /// Default user record: password `PASSWORD`, the client public key, full access to `/`,
    /// `/ro` list+download only, `/noaccess` nothing, `/patterns` only `*.txt`.
    pub fn user_record(&self, name: &str, id: usize) -> Value {
        json!({
            "id": id,
            "status": 1,
            "username": name,
            "password": PASSWORD,
            "public_keys": [self.client_pub],
            "home_dir": self.tmp.path().join("homes").join(name),
            "uid": 0,
            "gid": 0,
            "max_sessions": 0,
            "quota_size": 0,
            "quota_files": 0,
            "permissions": {
                "/": ["*"],
                "/ro": ["list", "download"],
                "/noaccess": []
            },
            "filters": {
                "file_patterns": [{
                    "path": "/patterns",
                    "allowed_patterns": ["*.txt"],
                    "denied_patterns": [],
                    "deny_policy": 0
                }]
            },
            "filesystem": {"provider": 0},
            "expiration_date": 0
        })
    }

    /// Adds a user built from `user_record`, adjusted by `edit`.
    pub fn user(mut self, name: &str, edit: impl FnOnce(&mut Value)) -> Self {
        let mut record = self.user_record(name, self.users.len() + 1);
        edit(&mut record);
        self.users.push(record);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets another section of the dump loaded at start (`groups`, `folders`, ...).
    pub fn dump_section(mut self, key: &str, value: Value) -> Self {
        self.sections.insert(key.to_string(), value);
        self
    }

    /// The test's private temp dir (the server's `root()`).
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub fn start(self) -> Server {
        let cfg = self.tmp.path().join("cfg");
        let dump = cfg.join("dump.json");
        let mut doc = json!({
            "users": self.users,
            "groups": [],
            "folders": [],
            "admins": [],
            "version": 17
        });
        for (k, v) in &self.sections {
            doc[k.as_str()] = v.clone();
        }
        fs::write(
            &dump,
            serde_json::to_vec_pretty(&doc).expect("serialize dump"),
        )
        .expect("write dump.json");
        let log_path = self.tmp.path().join("server.log");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let log = fs::File::create(&log_path).expect("create server.log");
            let mut cmd = sftpgo_cmd();
            cmd.arg("serve")
                .arg("-c")
                .arg(&cfg)
                .args(["-l", "", "--log-level", "debug", "--loaddata-from"])
                .arg(&dump)
                .env("SFTPGO_SFTPD__BINDINGS__0__PORT", port.to_string())
                // The REST API stays off unless a test turns it on (parallel servers).
                .env("SFTPGO_HTTPD__BINDINGS__0__PORT", "0")
                .env("SFTPGO_SFTPD__BINDINGS__0__ADDRESS", "127.0.0.1")
                .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .current_dir(self.tmp.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log handle"))
                .stderr(log);
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    return Server {
                        child,
                        port,
                        tmp: self.tmp,
                        client_key: self.client_key,
                        client_pub: self.client_pub,
                        log_path,
                    };
                }
                Err(err) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let tail = tail_lines(&log_path, LOG_TAIL_LINES);
                    // Another process may have grabbed the port between probe and bind.
                    if attempt < 3 && tail.to_lowercase().contains("in use") {
                        continue;
                    }
                    panic!(
                        "sftpgo serve did not become ready on 127.0.0.1:{port}: {err}\n\
                         --- last server log lines ---\n{tail}"
                    );
                }
            }
        }
    }
}

fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last = String::from("not probed yet");
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => return Err(format!("the server exited early ({status})")),
            Ok(None) => {}
            Err(e) => return Err(format!("try_wait: {e}")),
        }
        match probe_banner(&addr) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "not ready after {READY_TIMEOUT:?}; last probe: {last}"
    ))
}

/// Connects and reads the server's identification line (`SSH-2.0-...`).
fn probe_banner(addr: &SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(addr, Duration::from_secs(1))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    // Harmless if the server speaks first; needed if it waits for the client's line.
    stream
        .write_all(b"SSH-2.0-sftpgo_e2e_probe\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut reader = BufReader::new(stream);
    for _ in 0..20 {
        let mut line = Vec::new();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("read banner: {e}"))?;
        if n == 0 {
            return Err("connection closed before the SSH banner".to_string());
        }
        if line.starts_with(b"SSH-2.0-") {
            return Ok(());
        }
    }
    Err("no line starting with SSH-2.0- in the first 20 lines".to_string())
}

/// A running `sftpgo serve`; killed (and its log tail printed on panic) when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    tmp: TempDir,
    pub client_key: PathBuf,
    pub client_pub: String,
    log_path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "--- last {LOG_TAIL_LINES} lines of the sftpgo server log ({}) ---\n{}\n--- end \
                 of server log ---",
                self.log_path.display(),
                tail_lines(&self.log_path, LOG_TAIL_LINES)
            );
        }
    }
}

impl Server {
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM to the server.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the server to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// A server with only the default user `alice`.
    pub fn start_default() -> Server {
        ServerBuilder::new().start()
    }

    /// The test's private temp dir.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root().join("cfg")
    }

    /// Parent of all home dirs.
    pub fn homes_dir(&self) -> PathBuf {
        self.root().join("homes")
    }

    pub fn home_of(&self, user: &str) -> PathBuf {
        self.homes_dir().join(user)
    }

    /// alice's home dir on disk.
    pub fn home(&self) -> PathBuf {
        self.home_of(USER)
    }

    /// alice's home dir, created if the server has not created it yet (to plant files).
    pub fn ensure_home(&self) -> PathBuf {
        let home = self.home();
        fs::create_dir_all(&home).expect("create home dir");
        home
    }

    /// Working dir of the client processes (relative local paths resolve here).
    pub fn local(&self) -> PathBuf {
        self.root().join("local")
    }

    pub fn log_tail(&self) -> String {
        tail_lines(&self.log_path, LOG_TAIL_LINES)
    }

    /// The whole server log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `alice@127.0.0.1:<path>` for scp.
    pub fn remote(&self, path: &str) -> String {
        format!("{USER}@127.0.0.1:{path}")
    }

    /// Generates another client key pair inside the test's temp dir.
    pub fn new_key(&self, name: &str) -> (PathBuf, String) {
        gen_key(&self.root().join("keys"), name)
    }

    /// `ssh <user>@127.0.0.1 <command...>` authenticating with `key`.
    pub fn ssh_as(&self, user: &str, key: &Path, command: &[&str]) -> CmdOutput {
        require_tools(&["ssh"]);
        let mut cmd = Command::new("ssh");
        cmd.arg("-p")
            .arg(self.port.to_string())
            .args(ssh_client_opts(key))
            .arg("-T")
            .arg(format!("{user}@127.0.0.1"))
            .args(command)
            .current_dir(self.local());
        run(&mut cmd, CLIENT_TIMEOUT)
    }

    /// `ssh alice@127.0.0.1 <command...>` with the client key.
    pub fn ssh(&self, command: &[&str]) -> CmdOutput {
        self.ssh_as(USER, &self.client_key, command)
    }

    /// Runs an `sftp -b` batch as alice; the local working dir is `local()`.
    /// A `-` in front of a command makes sftp go on when it fails.
    pub fn sftp_batch(&self, lines: &[&str]) -> CmdOutput {
        self.sftp_batch_timeout(lines, CLIENT_TIMEOUT)
    }

    pub fn sftp_batch_timeout(&self, lines: &[&str], timeout: Duration) -> CmdOutput {
        self.sftp_batch_as(USER, &self.client_key, lines, timeout)
    }

    pub fn sftp_batch_as(
        &self,
        user: &str,
        key: &Path,
        lines: &[&str],
        timeout: Duration,
    ) -> CmdOutput {
        require_tools(&["sftp", "ssh"]);
        let n = BATCH_COUNTER.fetch_add(1, Ordering::Relaxed);
        let batch = self.root().join(format!("batch-{n}.txt"));
        let script = lines.join("\n");
        fs::write(&batch, format!("{script}\n")).expect("write sftp batch file");
        let mut cmd = Command::new("sftp");
        cmd.arg("-b")
            .arg(&batch)
            .arg("-P")
            .arg(self.port.to_string())
            .args(ssh_client_opts(key))
            .arg(format!("{user}@127.0.0.1"))
            .current_dir(self.local());
        let mut out = run(&mut cmd, timeout);
        out.desc = format!("{}\n--- batch ---\n{script}", out.desc);
        out
    }

    /// `scp -P <port> <opts> <args...>` (add `-O` for the legacy protocol yourself); the
    /// local working dir is `local()`.
    pub fn scp<S: AsRef<OsStr>>(&self, args: &[S]) -> CmdOutput {
        self.scp_timeout(args, CLIENT_TIMEOUT)
    }

    pub fn scp_timeout<S: AsRef<OsStr>>(&self, args: &[S], timeout: Duration) -> CmdOutput {
        require_tools(&["scp", "ssh"]);
        let mut cmd = Command::new("scp");
        cmd.arg("-P")
            .arg(self.port.to_string())
            .args(ssh_client_opts(&self.client_key))
            .args(args)
            .current_dir(self.local());
        run(&mut cmd, timeout)
    }

    /// `python3 tests/paramiko_ext.py --port <port> <args...>`.
    pub fn paramiko<S: AsRef<OsStr>>(&self, args: &[S]) -> CmdOutput {
        require_paramiko();
        let mut cmd = Command::new("python3");
        cmd.arg(paramiko_script())
            .arg("--port")
            .arg(self.port.to_string())
            .args(args)
            .current_dir(self.local());
        run(&mut cmd, CLIENT_TIMEOUT)
    }
}

// ------------------------------------------------------------------------------------ TLS

/// Runs openssl with `args` in `dir`.
pub fn openssl(dir: &std::path::Path, args: &[&str]) {
    run(
        Command::new("openssl").args(args).current_dir(dir),
        Duration::from_secs(30),
    )
    .assert_ok(&format!("openssl {}", args.join(" ")));
}

/// openssl arguments for a new P-256 key without a passphrase.
const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
pub fn make_pki(dir: &std::path::Path) {
    let mut ca = vec!["req", "-x509"];
    ca.extend(EC_KEY);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=test-ca",
        "-days",
        "2",
    ]);
    openssl(dir, &ca);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
        ("revoked", "extendedKeyUsage=clientAuth\n"),
    ] {
        issue_cert(dir, name, "sftpgo-test", ext);
    }
}

/// A client certificate `<name>.crt` (key `<name>.key`) for the subject CN `cn`,
/// signed by the CA of [`make_pki`] in `dir`.
pub fn make_client_cert(dir: &std::path::Path, name: &str, cn: &str) {
    issue_cert(dir, name, cn, "extendedKeyUsage=clientAuth\n");
}

/// `<name>.crt` and `<name>.key`, CN `cn`, extensions `ext`, signed by `ca.crt`.
fn issue_cert(dir: &std::path::Path, name: &str, cn: &str, ext: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    let (key, csr, crt, extf, subj) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.ext"),
        format!("/CN={cn}"),
    );
    let mut req = vec!["req"];
    req.extend(EC_KEY);
    req.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
    openssl(dir, &req);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &extf,
        ],
    );
}

/// `ca.crl` in `dir` (made by [`make_pki`]): the CA's revocation list, revoking
/// `revoked.crt`.
pub fn make_crl(dir: &std::path::Path) {
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\n\
         default_md=sha256\ndefault_crl_days=2\n",
    )
    .unwrap();
    let ca = ["-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt"];
    let mut revoke = vec!["ca", "-revoke", "revoked.crt"];
    revoke.extend(ca);
    openssl(dir, &revoke);
    let mut gencrl = vec!["ca", "-gencrl", "-out", "ca.crl"];
    gencrl.extend(ca);
    openssl(dir, &gencrl);
}
