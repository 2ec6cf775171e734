//! What users do to feature versions after applying them: wait for a backfill,
//! retire a version, freeze and unfreeze a feature.

use freshet_registry::{Frozen, Registry, Retirement};
use freshet_sql::model::{Feature, Kind};
use freshet_sql::reference::VersionRef;
use freshet_storage::online::OnlineRow;
use freshet_storage::state::column_family::OPERATOR_STATE;
use freshet_storage::state::WriteBatch;

use super::lane::remove_feature_state;
use super::Engine;
use crate::catalog::{feature_table, frozen_table, VersionState, VersionStatus};
use crate::state_keys::feature_state_key;
use crate::{EngineError, Result};

/// Rows written to the online store per put while taking a freeze snapshot.
const SNAPSHOT_CHUNK: usize = 10_000;

impl Engine {
    fn registry(&self) -> &Registry {
        &self.context.registry
    }

    /// The version `reference` names: `name@vN`, or the newest one for a bare name.
    fn named_version(&self, reference: &str) -> Result<(String, u32)> {
        let VersionRef { name, version } =
            VersionRef::parse(reference).map_err(EngineError::InvalidRequest)?;
        let version = match version {
            Some(version) => version,
            None => self
                .registry()
                .latest_version(Kind::Feature, &name)?
                .ok_or_else(|| EngineError::InvalidRequest(format!("no feature '{name}'")))?,
        };
        self.registry().resolve_version::<Feature>(&name, version)?;
        Ok((name, version))
    }

    /// The status of `name@vVERSION`.
    pub fn version_status(&self, name: &str, version: u32) -> Result<VersionStatus> {
        self.version_statuses()?
            .into_iter()
            .find(|s| s.name == name && s.version == version)
            .ok_or_else(|| EngineError::InvalidRequest(format!("no feature '{name}@v{version}'")))
    }

    /// Waits until the version `reference` names has caught up (READY or ACTIVE);
    /// refused when it failed or was retired.
    pub async fn wait_for_version(&self, reference: &str) -> Result<VersionStatus> {
        let (name, version) = self.named_version(reference)?;
        let mut changes = self.board().changes();
        loop {
            let status = self.version_status(&name, version)?;
            match &status.state {
                VersionState::Ready | VersionState::Active => return Ok(status),
                VersionState::Failed(cause) => {
                    return Err(EngineError::Refused(format!(
                        "feature '{name}@v{version}' FAILED: {cause}"
                    )))
                }
                VersionState::Retired => {
                    return Err(EngineError::Refused(format!(
                        "feature '{name}@v{version}' is RETIRED"
                    )))
                }
                VersionState::Backfilling => {}
            }
            changes
                .changed()
                .await
                .map_err(|_| EngineError::Stopped("the engine stopped while waiting".into()))?;
        }
    }

    /// Retires `name@vN`: stops maintaining it and frees its state. The version
    /// the bare name reads cannot be retired.
    pub async fn retire(&self, reference: &str) -> Result<VersionStatus> {
        let VersionRef { name, version } =
            VersionRef::parse(reference).map_err(EngineError::InvalidRequest)?;
        let version = version.ok_or_else(|| {
            EngineError::InvalidRequest(format!(
                "retire names one version: '{name}@vN', not '{reference}'"
            ))
        })?;
        let (name, version) =
            self.named_version(&VersionRef::pinned(&name, version).to_string())?;
        let status = self.version_status(&name, version)?;
        match status.state {
            VersionState::Active => {
                return Err(EngineError::Refused(format!(
                    "'{name}@v{version}' is the active version of '{name}'; apply or wait for \
                     a newer version to become active before retiring it"
                )))
            }
            VersionState::Retired => return Ok(status),
            _ => {}
        }
        let table = feature_table(&name, version);
        let mut batch = WriteBatch::new();
        Registry::put_retirement(
            &mut batch,
            Kind::Feature,
            &name,
            version,
            &Retirement::Retired,
        );
        if status.frozen_at.is_some() {
            Registry::put_frozen(&mut batch, &name, None);
        }
        self.context.state.write(batch)?;
        self.start().await?;
        let mut batch = WriteBatch::new();
        remove_feature_state(&table, &mut batch);
        self.context.state.write(batch)?;
        self.context.online.drop_table(&table).await?;
        self.context
            .online
            .drop_table(&frozen_table(&table))
            .await?;
        self.board().touch();
        self.version_status(&name, version)
    }

    /// Freezes feature `name`: reads of the version its bare name reads return
    /// the values it has now (or its default) until [`Engine::unfreeze`].
    pub async fn freeze(&self, name: &str, now: i64) -> Result<VersionStatus> {
        if name.contains('@') {
            return Err(EngineError::InvalidRequest(format!(
                "freeze names a feature, not a version: '{name}'"
            )));
        }
        let version = match self.registry().serving_version(Kind::Feature, name)? {
            Some(version) => version,
            None => self.named_version(name)?.1,
        };
        let status = self.version_status(name, version)?;
        if !matches!(status.state, VersionState::Active | VersionState::Ready) {
            return Err(EngineError::Refused(format!(
                "'{name}@v{version}' is {}; only a caught-up version can be frozen",
                status.state.name()
            )));
        }
        if status.frozen_at.is_some() {
            return Ok(status);
        }
        let table = feature_table(name, version);
        let snapshot = frozen_table(&table);
        self.context.online.drop_table(&snapshot).await?;
        let prefix = feature_state_key(&table, b"");
        let rows = self.context.state.scan_prefix(OPERATOR_STATE, &prefix)?;
        for chunk in rows.chunks(SNAPSHOT_CHUNK) {
            let rows = chunk
                .iter()
                .map(|(key, value)| OnlineRow {
                    table: snapshot.clone(),
                    key: key[prefix.len()..].to_vec(),
                    value: value.clone(),
                })
                .collect();
            self.context.online.put(rows).await?;
        }
        let mut batch = WriteBatch::new();
        Registry::put_frozen(&mut batch, name, Some(&Frozen { version, at: now }));
        self.context.state.write(batch)?;
        self.board().touch();
        self.version_status(name, version)
    }

    /// Ends the freeze of feature `name`. The snapshot stays in the online store
    /// until the next freeze or the version's retirement replaces or frees it, so
    /// that reads racing the unfreeze still find it.
    pub async fn unfreeze(&self, name: &str) -> Result<VersionStatus> {
        let frozen = self
            .registry()
            .frozen(name)?
            .ok_or_else(|| EngineError::Refused(format!("feature '{name}' is not frozen")))?;
        let mut batch = WriteBatch::new();
        Registry::put_frozen(&mut batch, name, None);
        self.context.state.write(batch)?;
        self.board().touch();
        self.version_status(name, frozen.version)
    }
}
