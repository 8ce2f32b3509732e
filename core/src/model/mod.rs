//! The data model, with SFTPGo's JSON field names and units (integers, Unix milliseconds).

mod admin;
mod event;
mod folder;
mod group;
mod group_settings;
pub mod ip_list;
pub mod names;
mod permission;
mod share;
mod user;

pub use admin::{ADMIN_PERMISSIONS, Admin, AdminGroupMapping, ApiKey, Role};
pub use event::{EventAction, EventRule, RelationOptions, RuleAction};
pub use folder::{Folder, FolderMapping, MAPPING_FIELDS, validate_mappings};
pub use group::{Group, GroupMapping, GroupType, validate_group_mappings};
pub use group_settings::{apply_groups, clean_path, replace_placeholders};
pub use ip_list::IpListEntry;
pub use names::NamingRules;
pub use permission::Permission;
pub use share::Share;
pub use user::{PatternsFilter, User, UserFilters, UserStatus};
