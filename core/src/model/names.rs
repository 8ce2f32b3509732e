//! Object names: what every stored name must satisfy, and SFTPGo's `naming_rules` bit
//! mask (1 any UTF-8 character, 2 lower-case, 4 trim surrounding spaces; default 5).

use crate::{Error, Result};

/// `data_provider.naming_rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamingRules(pub u32);

impl Default for NamingRules {
    fn default() -> Self {
        Self(5)
    }
}

/// Longest name accepted (SFTPGo's column width).
pub const MAX_NAME_LEN: usize = 255;

impl NamingRules {
    /// Bit 1: names may use any UTF-8 character, else only `[A-Za-z0-9._~-]`.
    pub fn any_utf8(self) -> bool {
        self.0 & 1 != 0
    }

    /// Bit 2: names are stored lower-cased.
    pub fn lower_case(self) -> bool {
        self.0 & 2 != 0
    }

    /// Bit 4: surrounding white space is removed.
    pub fn trim(self) -> bool {
        self.0 & 4 != 0
    }

    /// The name as stored: trimmed and lower-cased as the rules say. Lookups and
    /// references go through this too, so `Alice` finds `alice` under rule 2.
    pub fn convert(self, name: &str) -> String {
        let name = if self.trim() { name.trim() } else { name };
        if self.lower_case() {
            name.to_lowercase()
        } else {
            name.to_string()
        }
    }

    /// Converts a reference in place (see [`NamingRules::convert`]).
    pub fn convert_ref(self, name: &mut String) {
        let converted = self.convert(name);
        if converted != *name {
            *name = converted;
        }
    }

    /// Applies the rules to `name` in place, then checks it. `field` names the JSON field
    /// in the error.
    pub fn apply(self, field: &str, name: &mut String) -> Result<()> {
        if self.trim() {
            let trimmed = name.trim();
            if trimmed.len() != name.len() {
                *name = trimmed.to_string();
            }
        }
        if self.lower_case() {
            *name = name.to_lowercase();
        }
        if !self.any_utf8()
            && !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-'))
        {
            return Err(Error::invalid(format!(
                "{field}: {name:?} may only contain letters, digits, '.', '_', '~' and '-' \
                 (naming_rules)"
            )));
        }
        check_name(field, name)
    }
}

/// The checks every name passes whatever the rules: not empty, at most 255 bytes, and
/// usable as a path element (no `/`, `\`, control characters, `.` or `..`), so that
/// `%username%`-style placeholders can never leave their parent directory.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(format!("{field}: mandatory")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(format!(
            "{field}: longer than {MAX_NAME_LEN} bytes"
        )));
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(Error::invalid(format!(
            "{field}: {name:?} is not valid (no '/', '\\', control characters, '.' or '..')"
        )));
    }
    Ok(())
}

/// Checks a free-text field's length.
pub fn check_len(field: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(format!("{field}: longer than {max} bytes")));
    }
    Ok(())
}

/// Checks an e-mail address the way SFTPGo does (an empty one is fine): a local part
/// of `[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]`, `@`, and dot-separated domain labels of
/// letters, digits and inner hyphens, at most 63 characters each. Nothing else, so an
/// address cannot carry line breaks or brackets into mail headers or SMTP commands.
pub fn check_email(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    check_len(field, value, 255)?;
    let bad = || Error::invalid(format!("{field}: {value:?} is not a valid email address"));
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b));
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !local_ok || !domain.split('.').all(label_ok) {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_follow_sftpgo_syntax() {
        for ok in ["", "a@b", "first.last+tag@mail.example.com", "x@a-b.c"] {
            assert!(check_email("email", ok).is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "@b",
            "a@",
            "a@b\r\nRCPT TO:<x@y>",
            "a b@c",
            "<a@b>",
            "a@-b.c",
            "a@b..c",
            "a@b@c",
        ] {
            assert!(check_email("email", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn default_rules_trim_and_allow_utf8() {
        let mut n = " Jörg ".to_string();
        NamingRules::default().apply("username", &mut n).unwrap();
        assert_eq!(n, "Jörg");
    }

    #[test]
    fn strict_rules() {
        let mut n = "Jörg".to_string();
        assert!(NamingRules(0).apply("username", &mut n).is_err());
        let mut n = "MiXed".to_string();
        NamingRules(2).apply("username", &mut n).unwrap();
        assert_eq!(n, "mixed");
    }

    #[test]
    fn placeholders_cannot_escape() {
        for bad in ["..", ".", "a/b", "a\\b", "a\0b", ""] {
            let mut n = bad.to_string();
            assert!(NamingRules(1).apply("username", &mut n).is_err(), "{bad:?}");
        }
    }
}
