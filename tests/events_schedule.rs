//! Scheduled event rules, in-process (schedules fire at the top of an hour, too slow
//! for the black-box tests): the Event Manager over the real memory provider and the
//! local back-end runs the rules due in a given hour, and only those.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sftpgo_core::catalog::Catalog;
use sftpgo_core::clock::Civil;
use sftpgo_core::connection::{FsFactory, Opener};
use sftpgo_core::events::EventManager;
use sftpgo_core::model::{EventAction, EventRule, NamingRules, User};

/// Homes on local disk.
struct LocalHomes;

impl FsFactory for LocalHomes {
    fn fs_for(&self, user: &User) -> sftpgo_core::Result<Arc<dyn sftpgo_vfs::Fs>> {
        std::fs::create_dir_all(&user.home_dir).unwrap();
        Ok(Arc::new(sftpgo_vfs::local::LocalFs::new(&user.home_dir)?))
    }
}

fn hour(y: i64, m: u32, d: u32, h: u32) -> i64 {
    Civil {
        year: y,
        month: m,
        day: d,
        hour: h,
        minute: 0,
        second: 0,
    }
    .to_unix()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_fire_the_rules_due_in_the_hour() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sftpgo_providers::Config {
        driver: sftpgo_providers::Driver::Memory,
        ..Default::default()
    };
    let provider = sftpgo_providers::open(&cfg, dir.path()).await.unwrap();
    let catalog = Catalog::new(provider, NamingRules(5));
    let home = dir.path().join("homes/sched");
    let user: User = serde_json::from_value(json!({"username": "sched", "status": 1,
        "password": "sched-pass-1", "home_dir": home, "permissions": {"/": ["*"]}}))
    .unwrap();
    catalog.add(&user).await.unwrap();
    for (name, path) in [("nightly-dir", "/nightly"), ("monday-dir", "/monday")] {
        let a: EventAction = serde_json::from_value(json!({"name": name, "type": 9,
            "options": {"fs_config": {"type": 3, "mkdirs": [path]}}}))
        .unwrap();
        catalog.add(&a).await.unwrap();
    }
    let rule = |name: &str, action: &str, hour: &str, dow: &str| -> EventRule {
        serde_json::from_value(json!({"name": name, "status": 1, "trigger": 3,
            "conditions": {"schedules": [{"hour": hour, "day_of_week": dow, "day_of_month": "*", "month": "*"}]},
            "actions": [{"name": action, "order": 1}]}))
        .unwrap()
    };
    catalog
        .add(&rule("nightly", "nightly-dir", "2", "*"))
        .await
        .unwrap();
    catalog
        .add(&rule("mondays", "monday-dir", "2", "mon"))
        .await
        .unwrap();
    let opener = Arc::new(Opener::new(
        Arc::new(LocalHomes),
        sftpgo_core::config::UploadMode::Standard,
    ));
    let events = EventManager::new(
        catalog,
        opener,
        Arc::default(),
        dir.path().join("backups"),
        None,
        tokio::runtime::Handle::current(),
    );
    // 2026-12-04 is a Friday: 01:00 fires nothing, 02:00 fires the daily rule only.
    assert_eq!(events.run_due_schedules(hour(2026, 12, 4, 1)).await, 0);
    assert_eq!(events.run_due_schedules(hour(2026, 12, 4, 2)).await, 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !home.join("nightly").is_dir() {
        assert!(Instant::now() < deadline, "the nightly rule did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!home.join("monday").exists());
    // The following Monday at 02:00 both fire.
    assert_eq!(events.run_due_schedules(hour(2026, 12, 7, 2)).await, 2);
    while !home.join("monday").is_dir() {
        assert!(Instant::now() < deadline, "the Monday rule did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
