//! Canonical virtual paths: the one place where client paths are normalised.
//!
//! A [`VirtualPath`] is absolute, uses `/` separators, and has no empty, `.` or `..`
//! components and no NUL. `..` at the root stays at the root, so no client input can
//! name anything above the user's root. Percent signs and backslashes are ordinary
//! characters (a file literally named `%2e%2e` is just that).

use crate::{Error, Result};

/// Longest accepted client path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// An absolute, normalised path inside a user's virtual namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VirtualPath(String);

impl VirtualPath {
    /// The root, `/`.
    pub fn root() -> Self {
        Self("/".to_string())
    }

    /// Canonicalises `input`, relative to `cwd` when it does not start with `/`.
    pub fn resolve(cwd: &VirtualPath, input: &str) -> Result<Self> {
        if input.len() > MAX_PATH_LEN {
            return Err(Error::invalid("path too long"));
        }
        if input.contains('\0') {
            return Err(Error::invalid("path contains NUL"));
        }
        let mut parts: Vec<&str> = Vec::new();
        if !input.starts_with('/') {
            parts.extend(cwd.components());
        }
        for comp in input.split('/') {
            match comp {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let mut s = String::with_capacity(input.len() + 1);
        for p in &parts {
            s.push('/');
            s.push_str(p);
        }
        if s.is_empty() {
            s.push('/');
        }
        Ok(Self(s))
    }

    /// Canonicalises an absolute path (relative inputs are taken from `/`).
    pub fn parse(input: &str) -> Result<Self> {
        Self::resolve(&Self::root(), input)
    }

    /// The path as a string, starting with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// Path components, root excluded.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// The parent directory (the root is its own parent).
    pub fn parent(&self) -> VirtualPath {
        match self.0.rfind('/') {
            Some(0) | None => Self::root(),
            Some(i) => Self(self.0[..i].to_string()),
        }
    }

    /// The last component (empty for the root).
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    /// Appends one plain name (which must not contain `/`).
    pub fn join(&self, name: &str) -> Result<VirtualPath> {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(Error::invalid("invalid file name"));
        }
        Ok(if self.is_root() {
            Self(format!("/{name}"))
        } else {
            Self(format!("{}/{name}", self.0))
        })
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &VirtualPath) -> bool {
        other.is_root()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    /// The path relative to the root of a back-end mounted at `/`: no leading slash.
    pub fn fs_relative(&self) -> &str {
        &self.0[1..]
    }

    /// This directory and each ancestor up to `/`, deepest first.
    pub fn ancestors(&self) -> Vec<VirtualPath> {
        let mut out = vec![self.clone()];
        let mut cur = self.clone();
        while !cur.is_root() {
            cur = cur.parent();
            out.push(cur.clone());
        }
        out
    }
}

impl std::fmt::Display for VirtualPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        VirtualPath::parse(s).unwrap().as_str().to_string()
    }

    #[test]
    fn normalises() {
        assert_eq!(p(""), "/");
        assert_eq!(p("/"), "/");
        assert_eq!(p("a/b"), "/a/b");
        assert_eq!(p("//a//./b/"), "/a/b");
        assert_eq!(p("/a/b/../c"), "/a/c");
    }

    #[test]
    fn never_climbs_above_root() {
        assert_eq!(p("../../etc/passwd"), "/etc/passwd");
        assert_eq!(p("/../../../etc/passwd"), "/etc/passwd");
        assert_eq!(p("a/../../.."), "/");
    }

    #[test]
    fn percent_and_backslash_are_literal() {
        assert_eq!(p("%2e%2e/x"), "/%2e%2e/x");
        assert_eq!(p("..\\x"), "/..\\x");
    }

    #[test]
    fn rejects_nul_and_huge() {
        assert!(VirtualPath::parse("a\0b").is_err());
        assert!(VirtualPath::parse(&"a".repeat(MAX_PATH_LEN + 1)).is_err());
    }

    #[test]
    fn relative_to_cwd() {
        let cwd = VirtualPath::parse("/home/x").unwrap();
        assert_eq!(
            VirtualPath::resolve(&cwd, "f").unwrap().as_str(),
            "/home/x/f"
        );
        assert_eq!(VirtualPath::resolve(&cwd, "/f").unwrap().as_str(), "/f");
    }

    #[test]
    fn prefix_and_parent() {
        let a = VirtualPath::parse("/ab/c").unwrap();
        assert!(a.starts_with(&VirtualPath::parse("/ab").unwrap()));
        assert!(!a.starts_with(&VirtualPath::parse("/a").unwrap()));
        assert_eq!(a.parent().as_str(), "/ab");
        assert_eq!(a.name(), "c");
        assert_eq!(VirtualPath::parse("/x").unwrap().parent().as_str(), "/");
    }
}
