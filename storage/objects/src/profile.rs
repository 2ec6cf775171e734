//! AWS shared profile files: the `[default]` or `AWS_PROFILE` profile of
//! `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`
//! and `AWS_CONFIG_FILE`), read the way the AWS CLI reads them: static keys,
//! session token, region and `endpoint_url`, the credentials file winning over
//! the config file for the same setting. Profiles that get their keys from
//! elsewhere (`role_arn`, `sso_*`, `credential_process`) are refused with a
//! message rather than passed over silently.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::{ObjectsError, Result};

/// What one profile of the shared files sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// `aws_access_key_id` with `aws_secret_access_key`, when set.
    pub keys: Option<(String, String)>,
    /// `aws_session_token`.
    pub session_token: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `endpoint_url`.
    pub endpoint_url: Option<String>,
    /// The setting through which the profile gets keys other than static ones
    /// (`role_arn`, `sso_session`, ...), which this build does not take.
    pub keys_from: Option<String>,
}

/// Settings that name another way of getting keys, which this build does not take.
const UNSUPPORTED: [&str; 5] = [
    "role_arn",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
];

/// The profile `AWS_PROFILE` names (else `default`) from the shared files,
/// with `env` giving the environment. `None` when neither file has it and
/// `AWS_PROFILE` is unset; an error when `AWS_PROFILE` names a profile that
/// neither file has, a file cannot be read, or the profile sets half a key.
pub fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Profile>> {
    let explicit = env("AWS_PROFILE").filter(|p| !p.is_empty());
    let name = explicit.clone().unwrap_or_else(|| "default".to_string());
    let home = env("HOME").map(PathBuf::from);
    let file = |variable: &str, default: &str| {
        env(variable)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let config_path = file("AWS_CONFIG_FILE", "config");
    let credentials_path = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_section = match name.as_str() {
        "default" => "default".to_string(),
        other => format!("profile {other}"),
    };
    let from_config = read_section(config_path.as_ref(), &config_section)?;
    let from_credentials = read_section(credentials_path.as_ref(), &name)?;
    if from_config.is_none() && from_credentials.is_none() {
        return match explicit {
            Some(profile) => Err(ObjectsError::Profile {
                profile,
                reason: format!(
                    "AWS_PROFILE names it, but neither {} nor {} has it",
                    shown(config_path.as_ref()),
                    shown(credentials_path.as_ref())
                ),
            }),
            None => Ok(None),
        };
    }
    let mut settings = from_config.unwrap_or_default();
    settings.extend(from_credentials.unwrap_or_default());
    let take = |key: &str| settings.get(key).filter(|v| !v.is_empty()).cloned();
    let keys = match (take("aws_access_key_id"), take("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Some((id, secret)),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(ObjectsError::Profile {
                profile: name,
                reason: "it sets only one of aws_access_key_id and aws_secret_access_key".into(),
            })
        }
    };
    let keys_from = UNSUPPORTED
        .iter()
        .find(|setting| settings.contains_key(**setting))
        .map(|setting| setting.to_string());
    Ok(Some(Profile {
        session_token: take("aws_session_token"),
        region: take("region"),
        endpoint_url: take("endpoint_url"),
        name,
        keys,
        keys_from,
    }))
}

impl Profile {
    /// The profile's static keys, if it has them; an error when it gets its
    /// keys in a way this build does not take (a role, SSO, a process).
    pub fn static_keys(&self) -> Result<Option<(String, String)>> {
        match (&self.keys, &self.keys_from) {
            (None, Some(setting)) => Err(ObjectsError::Profile {
                profile: self.name.clone(),
                reason: format!(
                    "it gets its keys through '{setting}', which this build does not support; \
                     give static keys (aws_access_key_id, aws_secret_access_key) or the AWS_* \
                     environment variables"
                ),
            }),
            _ => Ok(self.keys.clone()),
        }
    }
}

fn shown(path: Option<&PathBuf>) -> String {
    path.map_or_else(|| "(no HOME)".to_string(), |p| p.display().to_string())
}

/// The `key = value` settings of `[section]` in the INI file at `path`;
/// `None` when the file or the section is missing.
fn read_section(path: Option<&PathBuf>, section: &str) -> Result<Option<HashMap<String, String>>> {
    let Some(path) = path else { return Ok(None) };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ObjectsError::Io {
                path: path.clone(),
                source,
            })
        }
    };
    Ok(parse_section(&text, section))
}

/// The settings of `[section]` in INI `text`: lines `key = value`, comments
/// starting with `#` or `;`, indented lines (nested settings such as `s3 =`'s)
/// skipped. Later sections of the same name add to earlier ones.
fn parse_section(text: &str, section: &str) -> Option<HashMap<String, String>> {
    let mut found: Option<HashMap<String, String>> = None;
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.split_whitespace().collect::<Vec<_>>().join(" ");
            inside = header == section;
            if inside {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if !inside {
            continue;
        }
        if let (Some((key, value)), Some(settings)) = (line.split_once('='), found.as_mut()) {
            settings.insert(key.trim().to_lowercase(), value.trim().to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Home {
        dir: tempfile::TempDir,
        profile: Option<&'static str>,
    }

    impl Home {
        fn new(config: &str, credentials: &str) -> Home {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join(".aws")).unwrap();
            std::fs::write(dir.path().join(".aws/config"), config).unwrap();
            std::fs::write(dir.path().join(".aws/credentials"), credentials).unwrap();
            Home { dir, profile: None }
        }

        fn load(&self) -> Result<Option<Profile>> {
            let home = self.dir.path().to_string_lossy().to_string();
            let profile = self.profile;
            load(&move |name| match name {
                "HOME" => Some(home.clone()),
                "AWS_PROFILE" => profile.map(str::to_string),
                _ => None,
            })
        }
    }

    const CONFIG: &str = "\
[default]
region = eu-west-1

# a comment
[profile minio]
region=us-east-1
endpoint_url = http://127.0.0.1:9000
s3 =
  addressing_style = path
[profile assumed]
role_arn = arn:aws:iam::123:role/x
source_profile = default
";

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret-default
; comment
[minio]
aws_access_key_id=minioadmin
aws_secret_access_key=minio-secret
aws_session_token = token-1
region = ap-south-1
";

    #[test]
    fn the_default_profile_joins_both_files() {
        let profile = Home::new(CONFIG, CREDENTIALS).load().unwrap().unwrap();
        assert_eq!(
            profile,
            Profile {
                name: "default".into(),
                keys: Some(("AKIDDEFAULT".into(), "secret-default".into())),
                session_token: None,
                region: Some("eu-west-1".into()),
                endpoint_url: None,
                keys_from: None,
            }
        );
    }

    #[test]
    fn a_named_profile_takes_its_config_section_and_the_credentials_file_wins() {
        let mut home = Home::new(CONFIG, CREDENTIALS);
        home.profile = Some("minio");
        let profile = home.load().unwrap().unwrap();
        assert_eq!(
            profile.keys,
            Some(("minioadmin".into(), "minio-secret".into()))
        );
        assert_eq!(profile.session_token.as_deref(), Some("token-1"));
        // Both files set a region: the credentials file's is taken.
        assert_eq!(profile.region.as_deref(), Some("ap-south-1"));
        assert_eq!(
            profile.endpoint_url.as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn missing_files_and_no_profile_asked_give_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_string_lossy().to_string();
        let loaded = load(&move |name| (name == "HOME").then(|| home.clone())).unwrap();
        assert_eq!(loaded, None);
    }

    #[test]
    fn an_asked_profile_that_does_not_exist_is_an_error_naming_it_and_the_files() {
        let mut home = Home::new(CONFIG, CREDENTIALS);
        home.profile = Some("prod");
        let error = home.load().unwrap_err().to_string();
        assert!(error.contains("'prod'"), "{error}");
        assert!(error.contains(".aws/config"), "{error}");
        assert!(error.contains(".aws/credentials"), "{error}");
    }

    #[test]
    fn incomplete_or_unsupported_profiles_are_refused_without_showing_secrets() {
        let mut home = Home::new(CONFIG, "[half]\naws_secret_access_key = hush\n");
        home.profile = Some("half");
        let error = home.load().unwrap_err().to_string();
        assert!(error.contains("only one of aws_access_key_id"), "{error}");
        assert!(!error.contains("hush"), "{error}");
        home.profile = Some("assumed");
        // Loading works (its region or endpoint may still serve); asking for
        // its keys names what it would take them from.
        let profile = home.load().unwrap().unwrap();
        let error = profile.static_keys().unwrap_err().to_string();
        assert!(error.contains("'role_arn'"), "{error}");
    }
}
