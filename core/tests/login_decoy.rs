//! A failed password login costs one hash verification whether or not the account
//! exists, is enabled or has a password, so response times do not reveal usernames.
//! (Its own test binary: the verification counter is process-wide.)

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sftpgo_core::auth::{Authenticator, Client};
use sftpgo_core::model::User;
use sftpgo_core::password::{self, Argon2Options, BcryptOptions, HashAlgo, PasswordHashing};
use sftpgo_core::store::{StoreResult, UserStore};

struct Users(HashMap<String, User>);

#[async_trait]
impl UserStore for Users {
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        Ok(self.0.get(name).cloned())
    }
    async fn add_user(&self, u: &User) -> StoreResult<User> {
        Ok(u.clone())
    }
    async fn update_user(&self, _: &User) -> StoreResult<()> {
        Ok(())
    }
    async fn delete_user(&self, _: &str) -> StoreResult<()> {
        Ok(())
    }
    async fn list_users(&self, _: i64, _: i64) -> StoreResult<Vec<User>> {
        Ok(Vec::new())
    }
    async fn set_last_login(&self, _: &str, _: i64) -> StoreResult<()> {
        Ok(())
    }
}

fn user(name: &str, status: i32, password: &str) -> (String, User) {
    let user = User {
        username: name.into(),
        status,
        password: if password.is_empty() {
            String::new()
        } else {
            password::hash(password).unwrap()
        },
        ..Default::default()
    };
    (name.into(), user)
}

#[tokio::test]
async fn failed_logins_cost_one_hash_check_whether_or_not_the_user_exists() {
    password::configure(PasswordHashing {
        bcrypt_options: BcryptOptions { cost: 4 },
        argon2_options: Argon2Options {
            memory: 1024,
            iterations: 1,
            parallelism: 1,
        },
        algo: HashAlgo::Argon2id,
    });
    let users = Users(HashMap::from([
        user("alice", 1, "right-password"),
        user("bob", 0, "right-password"),
        user("carol", 1, ""),
    ]));
    let auth = Authenticator::new(Arc::new(users)).with_password_caching(false);
    let client = Client {
        protocol: "FTP",
        ip: "127.0.0.1".parse().unwrap(),
    };
    for (name, pass, why) in [
        ("alice", "wrong-password", "wrong password"),
        ("nobody", "wrong-password", "unknown user"),
        ("bob", "right-password", "disabled user"),
        ("carol", "wrong-password", "user without a password"),
    ] {
        let before = password::verifications();
        assert!(auth.password(name, pass, client).await.is_err(), "{why}");
        assert_eq!(password::verifications() - before, 1, "{why}");
    }
    let before = password::verifications();
    assert!(
        auth.password("alice", "right-password", client)
            .await
            .is_ok()
    );
    assert_eq!(password::verifications() - before, 1, "a good password");
}
