//! The AWS shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//! `~/.aws/credentials`): read a profile, and replace a profile's keys atomically while
//! keeping every other line and the file's mode.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Credentials;
use crate::error::{Error, Result};
use crate::model::SecretString;

/// Where the AWS tools look for the credentials file.
pub fn default_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var("AWS_SHARED_CREDENTIALS_FILE")
        .ok()
        .filter(|p| !p.is_empty())
    {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var("HOME")
        .map_err(|_| Error::Config("HOME is not set; pass --credentials-file".into()))?;
    Ok(Path::new(&home).join(".aws").join("credentials"))
}

fn section_name(line: &str) -> Option<&str> {
    let t = line.trim();
    t.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .map(str::trim)
}

fn key_value(line: &str) -> Option<(&str, &str)> {
    let t = line.trim();
    if t.starts_with('#') || t.starts_with(';') {
        return None;
    }
    t.split_once('=').map(|(k, v)| (k.trim(), v.trim()))
}

/// Reads the credentials of `profile`.
pub fn read_profile(path: &Path, profile: &str) -> Result<Credentials> {
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read `{}`: {e}", path.display())))?,
    );
    let mut in_section = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        if let Some(name) = section_name(line) {
            in_section = name == profile;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((k, v)) = key_value(line) {
            match k {
                "aws_access_key_id" => id = Some(v.to_owned()),
                "aws_secret_access_key" => secret = Some(SecretString::new(v.to_owned())),
                "aws_session_token" => token = Some(SecretString::new(v.to_owned())),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token: token,
        }),
        _ => Err(Error::Config(format!(
            "profile `{profile}` in `{}` has no aws_access_key_id and aws_secret_access_key",
            path.display()
        ))),
    }
}

const KEYS: [&str; 3] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// Replaces (or adds) `profile`'s keys, keeping everything else. The new file is written
/// beside the old one, synced, then renamed over it, so a crash leaves either the old or
/// the new file, never half of one. The file keeps its mode (0600 when new).
pub fn write_profile(path: &Path, profile: &str, creds: &Credentials) -> Result<()> {
    let existing = match fs::read_to_string(path) {
        Ok(t) => Some(zeroize::Zeroizing::new(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::Config(format!(
                "cannot read `{}`: {e}",
                path.display()
            )));
        }
    };
    let mode = fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o600);
    let mut ours = vec![
        format!("aws_access_key_id = {}", creds.access_key_id),
        format!(
            "aws_secret_access_key = {}",
            creds.secret_access_key.expose()
        ),
    ];
    if let Some(t) = &creds.session_token {
        ours.push(format!("aws_session_token = {}", t.expose()));
    }
    let mut out = zeroize::Zeroizing::new(String::new());
    let mut in_section = false;
    let mut written = false;
    for line in existing
        .as_deref()
        .map(String::as_str)
        .unwrap_or("")
        .lines()
    {
        if let Some(name) = section_name(line) {
            in_section = name == profile;
            out.push_str(line);
            out.push('\n');
            if in_section && !written {
                for l in &ours {
                    out.push_str(l);
                    out.push('\n');
                }
                written = true;
            }
            continue;
        }
        if in_section && key_value(line).is_some_and(|(k, _)| KEYS.contains(&k)) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !written {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&format!("[{profile}]\n"));
        for l in &ours {
            out.push_str(l);
            out.push('\n');
        }
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .map_err(|e| Error::Config(format!("cannot create `{}`: {e}", dir.display())))?;
    let tmp = dir.join(format!(
        ".{}.iamvault-tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("credentials")
    ));
    let _ = fs::remove_file(&tmp);
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(out.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::Config(format!("cannot write `{}`: {e}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(id: &str, token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: id.into(),
            secret_access_key: SecretString::new(format!("secret-{id}")),
            session_token: token.map(|t| SecretString::new(t.into())),
        }
    }

    #[test]
    fn replaces_one_profile_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("credentials");
        fs::write(&p, "# mine\n[default]\naws_access_key_id = D\naws_secret_access_key = d\n\n[work]\naws_access_key_id = OLD\naws_secret_access_key = old\naws_session_token = t\nregion = eu\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_profile(&p, "work", &creds("NEW", None)).unwrap();
        let text = fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("# mine\n[default]\naws_access_key_id = D\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "[work]\naws_access_key_id = NEW\naws_secret_access_key = secret-NEW\nregion = eu\n"
            ),
            "{text}"
        );
        assert!(!text.contains("OLD") && !text.contains("aws_session_token"));
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let back = read_profile(&p, "work").unwrap();
        assert_eq!(back.access_key_id, "NEW");
        assert!(read_profile(&p, "nope").is_err());
    }

    #[test]
    fn creates_a_new_file_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("credentials");
        write_profile(&p, "x", &creds("A", Some("tok"))).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let c = read_profile(&p, "x").unwrap();
        assert_eq!(c.session_token.unwrap().expose(), "tok");
    }
}
