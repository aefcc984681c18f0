//! The inputs named on the command line: files, directories (every `*.json` and `*.eml` below,
//! sorted) and `-` for stdin, each read only when its turn comes, so a large directory never
//! sits in memory at once.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

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

    /// Its bytes.
    pub(crate) fn read(&self) -> io::Result<Vec<u8>> {
        match self {
            Self::File(path) => std::fs::read(path),
            Self::Stdin => {
                let mut bytes = Vec::new();
                io::stdin().read_to_end(&mut bytes).map(|_| bytes)
            }
        }
    }
}

/// Every input, directories expanded. Directories that cannot be listed are reported on
/// stderr and counted in the returned number.
pub(crate) fn list(paths: &[PathBuf]) -> (Vec<Input>, usize) {
    let mut inputs = Vec::new();
    let mut unreadable = 0;
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if path.is_dir() {
            let mut files = Vec::new();
            if let Err(error) = walk(path, &mut files) {
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

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else if path
            .extension()
            .is_some_and(|ext| ext == "json" || ext == "eml")
        {
            files.push(path);
        }
    }
    Ok(())
}
