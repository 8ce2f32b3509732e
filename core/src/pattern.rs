//! Shell-like, case-insensitive file-name patterns (`*`, `?`, `[a-z]`, `[!x]`) as used by
//! SFTPGo's per-directory `file_patterns` filters.

/// True when `name` matches `pattern`, ignoring ASCII/Unicode case.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    // Iterative matcher with single-star backtracking.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => {
                pi += 1;
                ni += 1;
                continue;
            }
            Some('[') => {
                if let Some((ok, next)) = class(p, pi, n.get(ni).copied()) {
                    if ok {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                } else if n.get(ni) == Some(&'[') {
                    pi += 1;
                    ni += 1;
                    continue;
                }
            }
            Some(&c) if Some(&c) == n.get(ni) => {
                pi += 1;
                ni += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi.min(p.len())..].iter().all(|c| *c == '*')
}

/// Evaluates a `[...]` class starting at `p[start]`; returns (matched, index after `]`).
fn class(p: &[char], start: usize, c: Option<char>) -> Option<(bool, usize)> {
    let c = c?;
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let cur = *p.get(i)?;
        if cur == ']' && !first {
            return Some((found != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            let end = *p.get(i + 2)?;
            if cur <= c && c <= end {
                found = true;
            }
            i += 3;
        } else {
            if cur == c {
                found = true;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn basics() {
        assert!(matches("*.txt", "a.txt"));
        assert!(matches("*.TXT", "a.txt"));
        assert!(!matches("*.txt", "a.bin"));
        assert!(matches("a?c", "abc"));
        assert!(matches("*", ""));
        assert!(matches("[a-c]*", "bcd"));
        assert!(!matches("[!a-c]*", "bcd"));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(!matches("*a*b", "xxaxxbxx"));
        assert!(matches("[", "["));
    }
}
