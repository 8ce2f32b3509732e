//! The data model, with SFTPGo's JSON field names and units (integers, Unix milliseconds).

mod permission;
mod user;

pub use permission::Permission;
pub use user::{PatternsFilter, User, UserFilters, UserStatus};
