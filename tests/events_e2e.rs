//! The Event Manager through the real binary: actions and rules created over REST, an
//! on-demand rule run with `POST /api/v2/eventrules/run/{name}`, and what its actions
//! did checked on disk, in the API, in a real HTTP server (Python's) and a real SMTP
//! server (aiosmtpd); plus SFTPGo's validation of rules and actions and the run
//! endpoint's refusals. Schedules are checked in-process against the memory provider.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::api::*;
use common::*;
use serde_json::{Value, json};

/// A helper server process (HTTP or SMTP sink), killed when dropped.
struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sink(script: &str, args: &[&str]) -> Sink {
    require_tools(&["python3"]);
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the sink");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "{script} did not start");
    Sink(child)
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn write_file(p: &Path, data: &str, age: Duration) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
    let f = fs::File::options().write(true).open(p).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

const DAYS_3: Duration = Duration::from_secs(3 * 86_400);
const NOW: Duration = Duration::ZERO;

fn post(api: &Api, auth: &str, path: &str, body: Value) -> Reply {
    api.call("POST", path, &bearer(auth), Some(&body))
}

fn action(name: &str, kind: i32, options: Value) -> Value {
    json!({"name": name, "type": kind, "options": options})
}

fn rule_action(name: &str, order: i32, failure: bool) -> Value {
    json!({"name": name, "order": order, "relation_options": {"is_failure_action": failure}})
}

fn http_lines(log: &Path) -> Vec<Value> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Regular files under `dir` and their total size.
fn count_files(dir: &Path) -> (u64, u64) {
    let (mut files, mut size) = (0, 0);
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = fs::symlink_metadata(e.path()).unwrap();
        if m.is_dir() {
            let (f, s) = count_files(&e.path());
            files += f;
            size += s;
        } else if m.is_file() {
            files += 1;
            size += m.len();
        }
    }
    (files, size)
}

#[test]
fn on_demand_rules_run_file_retention_quota_and_notification_actions() {
    let http_port = free_port();
    let b = Server::builder()
        .user("bob", |_| {})
        .user("carol", |u| u["quota_size"] = json!(100 * MIB));
    let http_log = b.root().join("http.log");
    let _http = start_sink(
        "tests/http_sink.py",
        &[&http_port.to_string(), http_log.to_str().unwrap()],
    );
    let (srv, api) = start_api_with(b);
    let admin = api.token("root", "root-pass-1");
    let carol = srv.home_of("carol");
    let bob = srv.home_of("bob");
    for home in [&carol, &bob] {
        write_file(&home.join("in/a.txt"), "aaaa", NOW);
        write_file(&home.join("in/del.txt"), "dd", NOW);
        write_file(&home.join("in/r.txt"), "rrr", NOW);
        write_file(&home.join("old/x.log"), "old x", DAYS_3);
        write_file(&home.join("old/sub/y.log"), "old y", DAYS_3);
        write_file(&home.join("old/new.log"), "new", NOW);
    }
    let r = api.call(
        "PUT",
        "/api/v2/quotas/users/carol/transfer-usage",
        &bearer(&admin),
        Some(&json!({"used_upload_data_transfer": 4096, "used_download_data_transfer": 2048})),
    );
    assert_eq!(r.status, 200, "{}", r.raw);

    let actions = [
        action(
            "mkdirs",
            9,
            json!({"fs_config": {"type": 3, "mkdirs": ["/made/sub"]}}),
        ),
        action(
            "copy",
            9,
            json!({"fs_config": {"type": 6, "copy": [{"key": "/in/a.txt", "value": "/out/"}]}}),
        ),
        action(
            "zip",
            9,
            json!({"fs_config": {"type": 5, "compress": {"name": "/archive.zip", "paths": ["/in"]}}}),
        ),
        action(
            "delete",
            9,
            json!({"fs_config": {"type": 2, "deletes": ["/in/del.txt", "/in/missing"]}}),
        ),
        action(
            "rename",
            9,
            json!({"fs_config": {"type": 1, "renames": [{"key": "/in/r.txt", "value": "/moved/r.txt"}]}}),
        ),
        action(
            "retention",
            8,
            json!({"retention_config": {"folders": [
            {"path": "/old", "retention": 24, "delete_empty_dirs": true}]}}),
        ),
        action("quota", 5, json!({})),
        action("transfers", 7, json!({})),
        action(
            "must-exist",
            9,
            json!({"fs_config": {"type": 4, "exist": ["/nope"]}}),
        ),
        action(
            "notify",
            1,
            json!({"http_config": {
            "endpoint": format!("http://127.0.0.1:{http_port}/notify/{{{{.StatusString}}}}"),
            "method": "POST", "timeout": 10,
            "headers": [{"key": "Content-Type", "value": "application/json"}],
            "query_parameters": [{"key": "uid", "value": "{{.UID}}"}],
            "body": "{\"status\": \"{{.StatusString}}\", \"errors\": \"{{.ErrorString}}\"}"}}),
        ),
    ];
    for a in &actions {
        let r = post(&api, &admin, "/api/v2/eventactions", a.clone());
        assert_eq!(r.status, 201, "{}: {}", a["name"], r.raw);
    }
    // Only the chosen type's options are kept.
    let r = api.call("GET", "/api/v2/eventactions/copy", &bearer(&admin), None);
    assert_eq!(r.body["options"]["fs_config"]["copy"][0]["value"], "/out/");
    assert!(
        r.body["options"]["http_config"]
            .as_object()
            .unwrap()
            .is_empty()
    );

    let names = [
        "mkdirs",
        "copy",
        "zip",
        "delete",
        "rename",
        "retention",
        "quota",
        "transfers",
        "must-exist",
    ];
    let mut rule_actions: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| rule_action(n, i as i32 + 1, false))
        .collect();
    rule_actions.push(rule_action("notify", 20, true));
    let rule = json!({"name": "housekeeping", "status": 1, "trigger": 6,
        "conditions": {"fs_events": ["upload"], "options": {"names": [{"pattern": "car*"}]}},
        "actions": rule_actions});
    let r = post(&api, &admin, "/api/v2/eventrules", rule);
    assert_eq!(r.status, 201, "{}", r.raw);
    assert!(
        r.body["conditions"].get("fs_events").is_none(),
        "what an on-demand rule does not use is dropped: {}",
        r.raw
    );

    let r = api.call(
        "POST",
        "/api/v2/eventrules/run/housekeeping",
        &bearer(&admin),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.raw);
    assert_eq!(r.body["message"], "Event rule started");
    wait_until("the failure notification", || {
        !http_lines(&http_log).is_empty()
    });

    // The failure action got the run's status and errors.
    let req = &http_lines(&http_log)[0];
    assert_eq!(req["method"], "POST");
    assert!(
        req["path"].as_str().unwrap().starts_with("/notify/KO?uid="),
        "{req}"
    );
    let body: Value = serde_json::from_str(req["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["status"], "KO");
    assert!(
        body["errors"].as_str().unwrap().contains("must-exist"),
        "{body}"
    );

    // Files: made, copied, zipped, deleted, renamed; old files gone, new ones kept.
    assert!(carol.join("made/sub").is_dir());
    assert_eq!(fs::read_to_string(carol.join("out/a.txt")).unwrap(), "aaaa");
    assert!(!carol.join("in/del.txt").exists());
    assert!(!carol.join("in/r.txt").exists());
    assert_eq!(
        fs::read_to_string(carol.join("moved/r.txt")).unwrap(),
        "rrr"
    );
    assert!(!carol.join("old/x.log").exists());
    assert!(!carol.join("old/sub").exists(), "emptied directory removed");
    assert!(carol.join("old/new.log").exists());
    let listing = run(
        Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); z.testzip(); \
             print('\\n'.join(sorted(z.namelist())))",
            ])
            .arg(carol.join("archive.zip")),
        CLIENT_TIMEOUT,
    );
    listing.assert_ok("read the archive");
    assert_eq!(
        listing.stdout.split_whitespace().collect::<Vec<_>>(),
        ["in/", "in/a.txt", "in/del.txt", "in/r.txt"]
    );

    // Quota recounted from the storage, transfer counters zeroed.
    let r = api.call("GET", "/api/v2/users/carol", &bearer(&admin), None);
    let (files, size) = count_files(&carol);
    assert_eq!(
        r.body["used_quota_files"].as_u64(),
        Some(files),
        "{}",
        r.raw
    );
    assert_eq!(r.body["used_quota_size"].as_u64(), Some(size));
    assert_eq!(r.body["used_upload_data_transfer"].as_u64(), Some(0));
    assert_eq!(r.body["used_download_data_transfer"].as_u64(), Some(0));

    // bob is not selected by the rule's name pattern.
    assert!(!bob.join("made").exists());
    assert!(bob.join("old/x.log").exists() && bob.join("in/del.txt").exists());
    let r = api.call(
        "GET",
        "/api/v2/retention/users/checks",
        &bearer(&admin),
        None,
    );
    assert_eq!((r.status, r.body.clone()), (200, json!([])));
}

#[test]
fn backups_feed_commands_and_mail_attachments() {
    let smtp_port = free_port();
    // A real user with the backup owner's pseudo-name gets its own home, never the
    // backups directory.
    let b = Server::builder().user("__system__", |_| {});
    let root = b.root().to_path_buf();
    let mail_dir = root.join("mail");
    fs::create_dir_all(&mail_dir).unwrap();
    let hook = root.join("hook.sh");
    let hook_out = root.join("hook.out");
    fs::write(
        &hook,
        format!(
            "#!/bin/sh\n{{ echo \"args: $*\"; /usr/bin/env; }} > {}\n",
            hook_out.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&hook).status().unwrap();
    let _smtp = start_sink(
        "tests/smtp_sink.py",
        &[
            &smtp_port.to_string(),
            mail_dir.to_str().unwrap(),
            "mailer",
            "mail-pass-1",
        ],
    );
    let (srv, api) = start_api_with(
        b.env(
            "SFTPGO_COMMON__EVENT_MANAGER__ENABLED_COMMANDS",
            hook.to_str().unwrap(),
        )
        .env("SFTPGO_SMTP__HOST", "127.0.0.1")
        .env("SFTPGO_SMTP__PORT", &smtp_port.to_string())
        .env("SFTPGO_SMTP__FROM", "SFTPGo <sftpgo@example.com>")
        .env("SFTPGO_SMTP__USER", "mailer")
        .env("SFTPGO_SMTP__PASSWORD", "mail-pass-1")
        .env("HOOK_SECRET", "from-the-server"),
    );
    let admin = api.token("root", "root-pass-1");

    // Commands must be enabled, absolute, with a bounded timeout.
    let bad = action(
        "bad",
        2,
        json!({"cmd_config": {"cmd": "/bin/true", "timeout": 5}}),
    );
    let r = post(&api, &admin, "/api/v2/eventactions", bad);
    assert_eq!(
        r.status, 400,
        "a command not in enabled_commands: {}",
        r.raw
    );
    let bad = action("bad", 2, json!({"cmd_config": {"cmd": hook, "timeout": 0}}));
    assert_eq!(post(&api, &admin, "/api/v2/eventactions", bad).status, 400);

    for a in [
        action("backup", 4, json!({})),
        action(
            "hook",
            2,
            json!({"cmd_config": {"cmd": hook, "timeout": 10,
            "args": ["{{.VirtualPath}}", "{{.FileSize}}"],
            "env_vars": [{"key": "BACKUP_NAME", "value": "{{.ObjectName}}"},
                         {"key": "HOOK_SECRET", "value": "$"}]}}),
        ),
        action(
            "mail",
            3,
            json!({"email_config": {"recipients": ["ops@example.com"],
            "bcc": ["audit@example.com"], "subject": "Backup {{.ObjectName}} ready",
            "body": "Size: {{.FileSize}} bytes", "attachments": ["{{.VirtualPath}}"]}}),
        ),
    ] {
        let r = post(&api, &admin, "/api/v2/eventactions", a);
        assert_eq!(r.status, 201, "{}", r.raw);
    }
    let rule = json!({"name": "backup-and-tell", "status": 1, "trigger": 6,
        "actions": [rule_action("backup", 1, false), rule_action("hook", 2, false),
                    rule_action("mail", 3, false)]});
    assert_eq!(post(&api, &admin, "/api/v2/eventrules", rule).status, 201);
    let r = api.call(
        "POST",
        "/api/v2/eventrules/run/backup-and-tell",
        &bearer(&admin),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.raw);

    wait_until("the mail", || mail_dir.join("1.eml").exists());
    wait_until("the hook", || hook_out.exists());
    let backups: Vec<PathBuf> = fs::read_dir(srv.config_dir().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let backup = &backups[0];
    let name = backup.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("backup_") && name.ends_with(".json"),
        "{name}"
    );
    let sys = action(
        "sys-mkdir",
        9,
        json!({"fs_config": {"type": 3, "mkdirs": ["/sys-made"]}}),
    );
    assert_eq!(post(&api, &admin, "/api/v2/eventactions", sys).status, 201);
    let rule = json!({"name": "sys", "status": 1, "trigger": 6,
        "conditions": {"options": {"names": [{"pattern": "__system__"}]}},
        "actions": [rule_action("sys-mkdir", 1, false)]});
    assert_eq!(post(&api, &admin, "/api/v2/eventrules", rule).status, 201);
    let r = api.call("POST", "/api/v2/eventrules/run/sys", &bearer(&admin), None);
    assert_eq!(r.status, 202, "{}", r.raw);
    wait_until("the pseudo-named user's directory", || {
        srv.home_of("__system__").join("sys-made").is_dir()
    });
    assert!(!srv.config_dir().join("backups/sys-made").exists());
    let dump: Value = serde_json::from_slice(&fs::read(backup).unwrap()).unwrap();
    assert_eq!(dump["version"], 17);
    assert!(
        dump["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == USER)
    );
    let size = fs::metadata(backup).unwrap().len();

    // The command saw the backup in its arguments and only its own environment.
    wait_until("the hook output", || {
        fs::read_to_string(&hook_out).is_ok_and(|s| s.contains("HOOK_SECRET"))
    });
    let out = fs::read_to_string(&hook_out).unwrap();
    assert!(out.contains(&format!("args: /{name} {size}")), "{out}");
    assert!(out.contains(&format!("BACKUP_NAME={name}")), "{out}");
    assert!(out.contains("HOOK_SECRET=from-the-server"), "{out}");
    assert!(!out.contains("SFTPGO_"), "no server variable leaks: {out}");

    // The mail: authenticated, to and bcc, subject and the backup attached.
    let envelope: Value =
        serde_json::from_slice(&fs::read(mail_dir.join("1.json")).unwrap()).unwrap();
    assert_eq!(envelope["from"], "sftpgo@example.com");
    assert_eq!(
        envelope["to"],
        json!(["ops@example.com", "audit@example.com"])
    );
    assert_eq!(envelope["auth"], true);
    let check = run(
        Command::new("python3")
            .args([
                "-c",
                "import sys, email, json\n\
                 m = email.message_from_bytes(open(sys.argv[1], 'rb').read())\n\
                 parts = [p for p in m.walk() if p.get_filename()]\n\
                 print(m['Subject']); print(m['To']); print('Bcc' in m)\n\
                 print(parts[0].get_filename())\n\
                 print(len(json.loads(parts[0].get_payload(decode=True))['users']))\n\
                 print([p.get_payload(decode=True).decode() for p in m.walk() if p.get_content_type() == 'text/plain'][0])",
            ])
            .arg(mail_dir.join("1.eml")),
        CLIENT_TIMEOUT,
    );
    check.assert_ok("parse the mail");
    let lines: Vec<&str> = check.stdout.lines().collect();
    assert_eq!(lines[0], format!("Backup {name} ready"));
    assert_eq!(lines[1], "ops@example.com");
    assert_eq!(lines[2], "False", "bcc stays out of the headers");
    assert_eq!(lines[3], name);
    assert_eq!(lines[4], "2", "both users are in the backup");
    assert_eq!(lines[5], format!("Size: {size} bytes"));
}

#[test]
fn rules_and_actions_are_validated_and_runs_refused_as_sftpgo_does() {
    let (_srv, api) = start_with_api();
    let admin = api.token("root", "root-pass-1");
    let ok = action("mk", 9, json!({"fs_config": {"type": 3, "mkdirs": ["/x"]}}));
    assert_eq!(post(&api, &admin, "/api/v2/eventactions", ok).status, 201);
    for (what, bad) in [
        ("unknown type", action("a1", 10, json!({}))),
        (
            "http scheme",
            action(
                "a2",
                1,
                json!({"http_config": {"endpoint": "ftp://x", "timeout": 5, "method": "POST"}}),
            ),
        ),
        (
            "retention with nothing to delete",
            action(
                "a3",
                8,
                json!({"retention_config": {"folders": [{"path": "/", "retention": 0}]}}),
            ),
        ),
        (
            "rename of /",
            action(
                "a4",
                9,
                json!({"fs_config": {"type": 1, "renames": [{"key": "/a", "value": "/"}]}}),
            ),
        ),
        (
            "inactivity thresholds",
            action(
                "a5",
                14,
                json!({"user_inactivity_config": {"disable_threshold": 5, "delete_threshold": 2}}),
            ),
        ),
    ] {
        let r = post(&api, &admin, "/api/v2/eventactions", bad);
        assert_eq!(r.status, 400, "{what}: {}", r.raw);
    }
    let rule = |name: &str, trigger: i32, conditions: Value, actions: Value| json!({"name": name, "status": 1, "trigger": trigger, "conditions": conditions, "actions": actions});
    for (what, bad) in [
        (
            "fs rule without events",
            rule("r1", 1, json!({}), json!([rule_action("mk", 1, false)])),
        ),
        (
            "unknown fs event",
            rule(
                "r2",
                1,
                json!({"fs_events": ["uploaded"]}),
                json!([rule_action("mk", 1, false)]),
            ),
        ),
        (
            "pre-upload without a sync action",
            rule(
                "r3",
                1,
                json!({"fs_events": ["pre-upload"]}),
                json!([rule_action("mk", 1, false)]),
            ),
        ),
        (
            "bad schedule",
            rule(
                "r4",
                3,
                json!({"schedules": [{"hour": "25", "day_of_week": "*", "day_of_month": "*", "month": "*"}]}),
                json!([rule_action("mk", 1, false)]),
            ),
        ),
        (
            "only failure actions",
            rule("r5", 6, json!({}), json!([rule_action("mk", 1, true)])),
        ),
        (
            "sync on demand",
            rule(
                "r6",
                6,
                json!({}),
                json!([{"name": "mk", "order": 1, "relation_options": {"execute_sync": true}}]),
            ),
        ),
        (
            "empty pattern",
            rule(
                "r7",
                6,
                json!({"options": {"names": [{"pattern": ""}]}}),
                json!([rule_action("mk", 1, false)]),
            ),
        ),
    ] {
        let r = post(&api, &admin, "/api/v2/eventrules", bad);
        assert_eq!(r.status, 400, "{what}: {}", r.raw);
    }
    // E-mail addresses cannot carry line breaks into mail headers or SMTP commands.
    let r = post(
        &api,
        &admin,
        "/api/v2/users",
        json!({"username": "mailer", "password": "mailer-pass-1", "status": 1,
            "email": "a@b.c\r\nRCPT TO:<x@y.z>", "home_dir": "/tmp/x", "permissions": {"/": ["*"]}}),
    );
    assert_eq!(r.status, 400, "{}", r.raw);
    let fs_rule = rule(
        "on-upload",
        1,
        json!({"fs_events": ["upload"]}),
        json!([rule_action("mk", 1, false)]),
    );
    assert_eq!(
        post(&api, &admin, "/api/v2/eventrules", fs_rule).status,
        201
    );
    let mut off = rule("off", 6, json!({}), json!([rule_action("mk", 1, false)]));
    off["status"] = json!(0);
    assert_eq!(post(&api, &admin, "/api/v2/eventrules", off).status, 201);
    let run_status = |auth: &str, name: &str| {
        api.call(
            "POST",
            &format!("/api/v2/eventrules/run/{name}"),
            &bearer(auth),
            None,
        )
        .status
    };
    assert_eq!(run_status(&admin, "on-upload"), 400, "not on-demand");
    assert_eq!(run_status(&admin, "off"), 400, "inactive");
    assert_eq!(run_status(&admin, "nope"), 404);
    let limited = json!({"username": "limited", "password": "limited-pass-1", "status": 1,
        "permissions": ["view_users", "edit_users"]});
    assert_eq!(post(&api, &admin, "/api/v2/admins", limited).status, 201);
    let lt = api.token("limited", "limited-pass-1");
    assert_eq!(run_status(&lt, "off"), 403, "run needs *");
    let r = api.call("GET", "/api/v2/retention/users/checks", &bearer(&lt), None);
    assert_eq!(r.status, 403);
}

/// The HTTP sink's requests whose path starts with `prefix`.
fn requests_to(log: &Path, prefix: &str) -> Vec<Value> {
    http_lines(log)
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap_or_default().starts_with(prefix))
        .collect()
}

fn notify(name: &str, port: u16, path: &str, body: &str) -> Value {
    action(
        name,
        1,
        json!({"http_config": {
            "endpoint": format!("http://127.0.0.1:{port}{path}"), "method": "POST", "timeout": 10,
            "headers": [{"key": "Content-Type", "value": "application/json"}],
            "body": body}}),
    )
}

#[test]
fn file_events_of_every_protocol_run_rules_and_sync_actions_can_refuse() {
    let http_port = free_port();
    // Transfer counters are written for every user: the first upload is still told
    // once.
    let b = Server::builder().env("SFTPGO_DATA_PROVIDER__TRACK_QUOTA", "1");
    let http_log = b.root().join("http.log");
    let _http = start_sink(
        "tests/http_sink.py",
        &[&http_port.to_string(), http_log.to_str().unwrap()],
    );
    let (srv, api) = start_api_with(b);
    let admin = api.token("root", "root-pass-1");
    let body = r#"{"event": "{{.Event}}", "name": "{{.Name}}", "path": "{{.VirtualPath}}",
        "target": "{{.VirtualTargetPath}}", "size": {{.FileSize}}, "proto": "{{.Protocol}}",
        "status": {{.Status}}, "fs": "{{.FsPath}}", "ip": "{{.IP}}"}"#;
    for a in [
        notify("tell", http_port, "/fs/{{.Event}}", body),
        action(
            "gate",
            9,
            json!({"fs_config": {"type": 4, "exist": ["/allow/{{.ObjectName}}"]}}),
        ),
        action(
            "never",
            9,
            json!({"fs_config": {"type": 4, "exist": ["/never"]}}),
        ),
    ] {
        let r = post(&api, &admin, "/api/v2/eventactions", a);
        assert_eq!(r.status, 201, "{}", r.raw);
    }
    let sync = |name: &str| json!([{"name": name, "order": 1, "relation_options": {"execute_sync": true}}]);
    for rule in [
        json!({"name": "tell-all", "status": 1, "trigger": 1,
            "conditions": {"fs_events": ["upload", "first-upload", "download", "delete", "rename", "mkdir", "rmdir"],
                "options": {"fs_paths": [{"pattern": "/in/**"}]}},
            "actions": [rule_action("tell", 1, false)]}),
        json!({"name": "gatekeeper", "status": 1, "trigger": 1,
            "conditions": {"fs_events": ["pre-upload"], "options": {"fs_paths": [{"pattern": "/gated/*"}]}},
            "actions": sync("gate")}),
        json!({"name": "checked", "status": 1, "trigger": 1,
            "conditions": {"fs_events": ["upload"], "options": {"fs_paths": [{"pattern": "/checked/*"}]}},
            "actions": sync("never")}),
    ] {
        let r = post(&api, &admin, "/api/v2/eventrules", rule);
        assert_eq!(r.status, 201, "{}", r.raw);
    }
    write_file(&srv.local().join("a.txt"), "hello events", NOW);
    let home = srv.home_of(USER);
    srv.sftp_batch(&[
        "mkdir /in",
        "put a.txt /in/a.txt",
        "put a.txt /in/a2.txt",
        "get /in/a.txt got.txt",
        "rename /in/a.txt /in/b.txt",
        "rm /in/b.txt",
        "mkdir /in/sub",
        "rmdir /in/sub",
        "put a.txt /elsewhere.txt",
    ])
    .assert_ok("sftp operations");
    wait_until("the rmdir event", || {
        !requests_to(&http_log, "/fs/rmdir").is_empty()
    });
    let body_of =
        |r: &Value| -> Value { serde_json::from_str(r["body"].as_str().unwrap()).unwrap() };
    let uploads = requests_to(&http_log, "/fs/upload");
    assert_eq!(uploads.len(), 2, "{uploads:?}");
    let up = body_of(&uploads[0]);
    assert_eq!(up["name"], USER);
    assert_eq!(up["path"], "/in/a.txt");
    assert_eq!(up["size"], 12);
    assert_eq!(
        (up["proto"].as_str(), up["status"].as_i64()),
        (Some("SFTP"), Some(1))
    );
    assert_eq!(up["fs"], home.join("in/a.txt").display().to_string());
    assert_eq!(up["ip"], "127.0.0.1");
    let firsts = requests_to(&http_log, "/fs/first-upload");
    assert_eq!(
        firsts.len(),
        1,
        "only the account's first upload: {firsts:?}"
    );
    assert_eq!(body_of(&firsts[0])["path"], "/in/a.txt");
    let rename = body_of(&requests_to(&http_log, "/fs/rename")[0]);
    assert_eq!(
        (rename["path"].as_str(), rename["target"].as_str()),
        (Some("/in/a.txt"), Some("/in/b.txt"))
    );
    assert_eq!(
        body_of(&requests_to(&http_log, "/fs/delete")[0])["size"],
        12
    );
    assert_eq!(requests_to(&http_log, "/fs/download").len(), 1);
    assert_eq!(
        requests_to(&http_log, "/fs/mkdir").len(),
        1,
        "/in itself is outside /in/**"
    );
    assert!(
        http_lines(&http_log)
            .iter()
            .all(|r| !r["body"].as_str().unwrap().contains("elsewhere")),
        "paths outside the pattern fire nothing"
    );

    // A synchronous pre-upload action refuses the upload; once it passes, it is allowed.
    let out = srv.sftp_batch(&["mkdir /gated", "put a.txt /gated/x.txt"]);
    assert!(!out.success(), "refused by the rule\n{}", out.report());
    assert!(
        !out.stderr.contains("/allow/") && !out.stdout.contains("/allow/"),
        "the client learns nothing of the rule's action\n{}",
        out.report()
    );
    assert!(!home.join("gated/x.txt").exists());
    fs::create_dir_all(home.join("allow")).unwrap();
    fs::write(home.join("allow/x.txt"), "ok").unwrap();
    srv.sftp_batch(&["put a.txt /gated/x.txt"])
        .assert_ok("allowed now");
    assert!(home.join("gated/x.txt").exists());

    // A synchronous upload action that fails removes the uploaded file, on every
    // protocol: SFTP and the REST user API here.
    let out = srv.sftp_batch(&["mkdir /checked", "put a.txt /checked/y.txt"]);
    assert!(!out.success(), "the upload is refused\n{}", out.report());
    assert!(!home.join("checked/y.txt").exists(), "and removed");
    // An upload cut off mid-way (the client drops the connection) is checked too: in
    // upload mode 0 its bytes stay, so the refusal removes them.
    require_paramiko();
    let script = "import sys, paramiko\n\
        t = paramiko.Transport(('127.0.0.1', int(sys.argv[1])))\n\
        t.connect(username=sys.argv[2], password=sys.argv[3])\n\
        s = paramiko.SFTPClient.from_transport(t)\n\
        f = s.open('/checked/cut.txt', 'wb')\n\
        f.write(b'x' * 4096); f.flush()\n\
        t.sock.close()\n";
    run(
        Command::new("python3").args(["-c", script, &srv.port.to_string(), USER, PASSWORD]),
        CLIENT_TIMEOUT,
    )
    .assert_ok("cut-off upload");
    wait_until("the cut-off upload's removal", || {
        !home.join("checked/cut.txt").exists()
    });
    let user = api.user_token(USER, PASSWORD);
    let r = upload(
        &api,
        &user,
        "/checked/z.txt",
        &["--data-binary", "@a.txt"],
        &srv.local(),
    );
    assert!(!r.stdout.trim_end().ends_with("201"), "{}", r.report());
    assert!(!home.join("checked/z.txt").exists());
    let r = upload(
        &api,
        &user,
        "/in/api.txt",
        &["--data-binary", "@a.txt"],
        &srv.local(),
    );
    assert!(r.stdout.trim_end().ends_with("201"), "{}", r.report());
    wait_until("the HTTP upload event", || {
        requests_to(&http_log, "/fs/upload")
            .iter()
            .any(|r| body_of(r)["proto"] == "HTTP")
    });
}

#[test]
fn provider_changes_run_provider_rules() {
    let http_port = free_port();
    let b = Server::builder();
    let http_log = b.root().join("http.log");
    let _http = start_sink(
        "tests/http_sink.py",
        &[&http_port.to_string(), http_log.to_str().unwrap()],
    );
    let (srv, api) = start_api_with(b);
    let admin = api.token("root", "root-pass-1");
    for a in [
        notify(
            "audit",
            http_port,
            "/provider/{{.Event}}",
            r#"{"who": "{{.Name}}", "type": "{{.ObjectType}}", "object": "{{.ObjectName}}", "data": {{.ObjectData}}}"#,
        ),
        action(
            "welcome",
            9,
            json!({"fs_config": {"type": 3, "mkdirs": ["/welcome"]}}),
        ),
    ] {
        assert_eq!(post(&api, &admin, "/api/v2/eventactions", a).status, 201);
    }
    let rules = [
        json!({"name": "audit-users", "status": 1, "trigger": 2,
            "conditions": {"provider_events": ["add", "update", "delete"], "options": {"provider_objects": ["user"]}},
            "actions": [rule_action("audit", 1, false)]}),
        json!({"name": "welcome-users", "status": 1, "trigger": 2,
            "conditions": {"provider_events": ["add"], "options": {"provider_objects": ["user"]}},
            "actions": [rule_action("welcome", 1, false)]}),
    ];
    for rule in rules {
        assert_eq!(post(&api, &admin, "/api/v2/eventrules", rule).status, 201);
    }
    let home = srv.homes_dir().join("newbie");
    let user = json!({"username": "newbie", "password": "newbie-pass-1", "status": 1,
        "home_dir": home, "permissions": {"/": ["*"]}});
    assert_eq!(
        post(&api, &admin, "/api/v2/users", user.clone()).status,
        201
    );
    wait_until("the add event", || {
        !requests_to(&http_log, "/provider/add").is_empty()
    });
    let add: Value = serde_json::from_str(
        requests_to(&http_log, "/provider/add")[0]["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (add["who"].as_str(), add["type"].as_str()),
        (Some("root"), Some("user"))
    );
    assert_eq!(add["object"], "newbie");
    assert_eq!(add["data"]["username"], "newbie");
    assert!(
        add["data"].get("password").is_none(),
        "no password hash in events"
    );
    wait_until("the welcome directory", || home.join("welcome").is_dir());
    // Groups are not user objects: no event.
    assert_eq!(
        post(&api, &admin, "/api/v2/groups", json!({"name": "g1"})).status,
        201
    );
    let r = api.call("DELETE", "/api/v2/users/newbie", &bearer(&admin), None);
    assert_eq!(r.status, 200);
    wait_until("the delete event", || {
        !requests_to(&http_log, "/provider/delete").is_empty()
    });
    let del: Value = serde_json::from_str(
        requests_to(&http_log, "/provider/delete")[0]["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(del["data"]["username"], "newbie", "the user as it was");
    assert!(
        requests_to(&http_log, "/provider/")
            .iter()
            .all(|r| !r["body"].as_str().unwrap().contains("\"group\""))
    );
}

#[test]
fn banned_addresses_run_ip_blocked_rules() {
    let http_port = free_port();
    let b = Server::builder()
        .env("SFTPGO_COMMON__DEFENDER__ENABLED", "true")
        .env("SFTPGO_COMMON__DEFENDER__THRESHOLD", "5")
        .env("SFTPGO_COMMON__DEFENDER__SCORE_VALID", "2")
        .env("SFTPGO_COMMON__DEFENDER__SCORE_INVALID", "2")
        .env("SFTPGO_COMMON__DEFENDER__LOGIN_DELAY__PASSWORD_FAILED", "0");
    let http_log = b.root().join("http.log");
    let _http = start_sink(
        "tests/http_sink.py",
        &[&http_port.to_string(), http_log.to_str().unwrap()],
    );
    let (_srv, api) = start_api_with(b);
    let admin = api.token("root", "root-pass-1");
    let tell = notify(
        "tell-ban",
        http_port,
        "/banned",
        r#"{"event": "{{.Event}}", "ip": "{{.IP}}"}"#,
    );
    assert_eq!(post(&api, &admin, "/api/v2/eventactions", tell).status, 201);
    let rule = json!({"name": "bans", "status": 1, "trigger": 4,
        "conditions": {"options": {"names": [{"pattern": "x"}]}},
        "actions": [rule_action("tell-ban", 1, false)]});
    let r = post(&api, &admin, "/api/v2/eventrules", rule);
    assert_eq!(r.status, 201, "{}", r.raw);
    assert!(
        r.body["conditions"]["options"].get("names").is_none(),
        "{}",
        r.raw
    );
    for _ in 0..3 {
        let r = api.call("GET", "/api/v2/token", &["-u", "root:wrong-password"], None);
        assert_eq!(r.status, 401);
    }
    wait_until("the ban notification", || {
        !requests_to(&http_log, "/banned").is_empty()
    });
    let body: Value = serde_json::from_str(
        requests_to(&http_log, "/banned")[0]["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body, json!({"event": "IP Blocked", "ip": "127.0.0.1"}));
}
