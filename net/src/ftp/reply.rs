//! Core error kinds to FTP reply codes (RFC 959 §4.2), in one place.

use sftpgo_core::{Error, ErrorKind};

/// The reply for a failed file command.
pub fn for_error(e: &Error) -> (u16, String) {
    match e.kind {
        ErrorKind::NotFound => (550, "No such file or directory".into()),
        ErrorKind::PermissionDenied => (550, "Permission denied".into()),
        ErrorKind::QuotaExceeded => (552, e.message.clone()),
        ErrorKind::Unsupported => (502, "Not supported by this server".into()),
        ErrorKind::InvalidInput => (553, e.message.clone()),
        ErrorKind::AlreadyExists | ErrorKind::Conflict => (550, e.message.clone()),
        ErrorKind::Transient => (450, e.message.clone()),
        ErrorKind::Internal => (451, "Local error in processing".into()),
    }
}

/// The reply for a transfer that failed on the file side.
pub fn for_transfer(e: &Error) -> (u16, String) {
    match e.kind {
        ErrorKind::QuotaExceeded => (552, format!("Transfer aborted: {}", e.message)),
        ErrorKind::Transient => (450, format!("Transfer aborted: {}", e.message)),
        ErrorKind::NotFound | ErrorKind::PermissionDenied => for_error(e),
        _ => (451, "Transfer aborted: local error in processing".into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_codes() {
        assert_eq!(for_error(&Error::not_found()).0, 550);
        assert_eq!(for_error(&Error::denied()).0, 550);
        assert_eq!(
            for_error(&Error::new(ErrorKind::QuotaExceeded, "quota")).0,
            552
        );
        let internal = for_error(&Error::new(ErrorKind::Internal, "/secret/path failed"));
        assert_eq!(internal, (451, "Local error in processing".into()));
        assert_eq!(
            for_transfer(&Error::new(ErrorKind::QuotaExceeded, "too big")).0,
            552
        );
    }
}
