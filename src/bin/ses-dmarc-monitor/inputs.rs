//! The inputs named on the command line: files, directories (for `analyze` every `*.json`,
//! `*.jsonl`, `*.eml`, `*.gz`, `*.xml` and `*.zip` below; for `reports` every file; sorted) and `-` for stdin, each read only when its turn comes, so a large
//! directory never sits in memory at once. Gzip is decompressed whatever the name: Firehose
//! writes compressed exports without an extension.

use flate2::read::MultiGzDecoder;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What one decompressed input may grow to: a Firehose export is megabytes, a gzip bomb more.
const MAX_DECOMPRESSED: u64 = 512 * 1024 * 1024;

/// What one input (a file, or stdin) may hold: SES stores messages up to 40 MB, and a
/// larger report is read compressed. A bound on memory: an input is held whole.
pub(crate) const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// One input to read: a file, or stdin.
pub(crate) enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    /// The name reports and errors use.
    pub(crate) fn name(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Stdin => "-".to_owned(),
        }
    }

    /// Its bytes, decompressed when they are gzip.
    pub(crate) fn read(&self) -> io::Result<Vec<u8>> {
        gunzip(self.read_raw()?)
    }

    /// Its bytes as they are, up to [`MAX_INPUT`]: past it, an error that says so.
    pub(crate) fn read_raw(&self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let limit = MAX_INPUT + 1;
        match self {
            Self::File(path) => {
                let file = std::fs::File::open(path)?;
                // Sized up front: growing by doubling would hold up to twice the file.
                let size = file.metadata().map_or(0, |m| m.len()).min(limit);
                bytes.reserve_exact(usize::try_from(size).unwrap_or(0));
                file.take(limit).read_to_end(&mut bytes)?
            }
            Self::Stdin => io::stdin().lock().take(limit).read_to_end(&mut bytes)?,
        };
        if bytes.len() as u64 > MAX_INPUT {
            return Err(io::Error::other(format!(
                "larger than {} MiB, the most one input may hold (give a large report gzipped)",
                MAX_INPUT / 1024 / 1024
            )));
        }
        Ok(bytes)
    }
}

/// The name of the file in a directory of events that states their identities' SES state
/// (shaped as `--identity-state` reads it): configuration, not an event.
pub(crate) const IDENTITY_STATE_FILE: &str = "identity-state.json";

/// Every input, directories expanded. Directories that cannot be listed are reported on
/// stderr and counted in the returned number. A directory's own `identity-state.json` is not
/// an input ([`directory_identity_state`]).
pub(crate) fn list(paths: &[PathBuf]) -> (Vec<Input>, usize) {
    list_with(paths, |path| {
        path.file_name()
            .is_none_or(|name| name != IDENTITY_STATE_FILE)
            && path.extension().is_some_and(|ext| {
                ["json", "jsonl", "eml", "gz", "xml", "zip"]
                    .iter()
                    .any(|e| ext == *e)
            })
    })
}

/// The identity state a directory of events carries: the first directory given with an
/// `identity-state.json` at its top, and where it came from (for errors). Said on stderr, so
/// that a reader knows which state judged the events.
pub(crate) fn directory_identity_state(paths: &[PathBuf]) -> Option<(PathBuf, &'static str)> {
    let found = paths
        .iter()
        .filter(|path| path.is_dir())
        .map(|dir| dir.join(IDENTITY_STATE_FILE))
        .find(|file| file.is_file())?;
    eprintln!(
        "note: SES identity state from {} (--identity-state FILE gives another)",
        found.display()
    );
    Some((found, "identity state"))
}

/// Every input, directories expanded to every file below them but hidden ones: for inputs
/// recognized by their content.
pub(crate) fn list_every_file(paths: &[PathBuf]) -> (Vec<Input>, usize) {
    list_with(paths, |path| {
        !path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'))
    })
}

fn list_with(paths: &[PathBuf], wanted: fn(&Path) -> bool) -> (Vec<Input>, usize) {
    let mut inputs = Vec::new();
    let mut unreadable = 0;
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if path.is_dir() {
            let mut files = Vec::new();
            if let Err(error) = walk(path, wanted, &mut files) {
                eprintln!("error: {}: {error}", path.display());
                unreadable += 1;
            }
            files.sort();
            inputs.extend(files.into_iter().map(Input::File));
        } else {
            inputs.push(Input::File(path.clone()));
        }
    }
    (inputs, unreadable)
}

/// `bytes` decompressed when they open with gzip's magic number, else as they are.
fn gunzip(bytes: Vec<u8>) -> io::Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes.as_slice())
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| io::Error::new(e.kind(), format!("not valid gzip: {e}")))?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(io::Error::other(format!(
            "decompresses to more than {} MiB",
            MAX_DECOMPRESSED / 1024 / 1024
        )));
    }
    Ok(out)
}

/// Every wanted file below `dir`. A link to a file is read; a link to a directory is not
/// followed (a link loop would never end), and is said on stderr.
fn walk(dir: &Path, wanted: fn(&Path) -> bool, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, wanted, files)?;
        } else if kind.is_symlink() && path.is_dir() {
            eprintln!(
                "note: {}: a link to a directory, not followed",
                path.display()
            );
        } else if wanted(&path) {
            files.push(path);
        }
    }
    Ok(())
}
