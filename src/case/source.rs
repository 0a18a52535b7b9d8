//! Reading user-supplied files safely: regular files only (a FIFO or device would block or never
//! end), a size bound enforced while reading, and UTF-8 errors with their position.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a user-supplied file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a regular file (FIFO, socket, device, directory).
    #[error("{} is {kind}, not a regular file; give a {what} file", .path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead (`a FIFO`, `a character device`, ...).
        kind: &'static str,
        /// What kind of file was wanted (`case`, `profile`, `CA certificate`).
        what: &'static str,
    },
    /// Larger than the limit for this kind of file.
    #[error("{} is larger than {limit} bytes, the limit for a {what} file", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
        /// What kind of file it is.
        what: &'static str,
    },
}

/// Text that turned out not to be UTF-8: where the first bad byte is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUtf8 {
    /// The text before the bad byte (valid UTF-8).
    pub valid_prefix: String,
    /// 1-based line of the bad byte.
    pub line: u64,
    /// 1-based column (in characters) of the bad byte.
    pub col: u64,
    /// 0-based byte offset in the file.
    pub offset: usize,
    /// The bad byte.
    pub byte: u8,
}

impl NotUtf8 {
    /// A one-line description in a case author's terms.
    pub fn message(&self) -> String {
        format!(
            "the file is not UTF-8 text: byte 0x{:02X} at byte offset {} (line {}, column {}) is not valid UTF-8",
            self.byte, self.offset, self.line, self.col
        )
    }
}

/// What kind of non-regular file `meta` describes, for messages.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
    }
    "a special file"
}

/// Reads a regular file of at most `limit` bytes. Special files are refused before they are
/// opened (opening a FIFO blocks until a writer comes), and the read itself is bounded, so a file
/// that grows or lies about its size cannot make it read without end.
pub fn read_regular_file(
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(SourceError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(&meta),
            what,
        });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(SourceError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(&meta),
            what,
        });
    }
    let too_large = || SourceError::TooLarge {
        path: path.to_path_buf(),
        limit,
        what,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Turns bytes into text, or says where the first byte that is not UTF-8 is.
pub fn utf8_text(bytes: Vec<u8>) -> Result<String, NotUtf8> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let valid_prefix = String::from_utf8_lossy(&bytes[..offset]).into_owned();
        let line = valid_prefix.matches('\n').count() as u64 + 1;
        let line_start = valid_prefix.rfind('\n').map_or(0, |i| i + 1);
        let col = valid_prefix[line_start..].chars().count() as u64 + 1;
        NotUtf8 {
            valid_prefix,
            line,
            col,
            offset,
            byte: bytes[offset],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_errors_have_a_position() {
        let e = utf8_text(b"id: x\ntitle: \xff".to_vec()).unwrap_err();
        assert_eq!((e.line, e.col, e.offset, e.byte), (2, 8, 13, 0xff));
        assert!(e.message().contains("0xFF"), "{}", e.message());
    }

    #[test]
    fn refuses_devices_and_bounds_reads() {
        #[cfg(unix)]
        {
            let e = read_regular_file(Path::new("/dev/zero"), 10, "case").unwrap_err();
            assert!(e.to_string().contains("character device"), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.yaml");
        std::fs::write(&p, [b'a'; 11]).unwrap();
        let e = read_regular_file(&p, 10, "case").unwrap_err();
        assert!(e.to_string().contains("larger than 10 bytes"), "{e}");
        assert_eq!(read_regular_file(&p, 11, "case").unwrap().len(), 11);
        let e = read_regular_file(dir.path(), 10, "case").unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
    }
}
