//! The local model registry: a folder holding one checked copy of each package, by name.

use std::path::{Path, PathBuf};

use crate::manifest::{Manifest, MANIFEST_FILE, MODEL_FILE};
use crate::{InferError, Model};

/// A folder of model packages, `<root>/<name>/{model.onnx, voxide-model.toml}`.
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InferError + '_ {
    move |e| InferError::Io {
        path: path.display().to_string(),
        source: e,
    }
}

impl Registry {
    /// The registry in `root` (created on the first `add`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks the package in `package` completely (manifest, weights hash, operators, input
    /// shape: [`Model::load`]) and copies it in under its manifest name. An existing model of
    /// that name is replaced only with `replace`.
    pub fn add(&self, package: &Path, replace: bool) -> Result<Manifest, InferError> {
        let model = Model::load(package)?;
        let manifest = model.manifest().clone();
        let dest = self.root.join(&manifest.name);
        if dest.exists() && !replace {
            return Err(InferError::Registry(format!(
                "a model named {:?} is already registered (version {}); remove it first or add with --replace",
                manifest.name,
                Manifest::read(&dest).map(|m| m.version).unwrap_or_else(|_| "unreadable".into())
            )));
        }
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        // Copy into a temporary folder beside the destination, then rename: a crash leaves
        // either the old package or the new one, never half of one.
        let staging = self
            .root
            .join(format!(".adding-{}-{}", manifest.name, std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io(&staging))?;
        for file in [MODEL_FILE, MANIFEST_FILE] {
            let to = staging.join(file);
            std::fs::copy(package.join(file), &to).map_err(io(&to))?;
        }
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(io(&dest))?;
        }
        std::fs::rename(&staging, &dest).map_err(io(&dest))?;
        Ok(manifest)
    }

    /// The folder of the model `name`.
    pub fn path(&self, name: &str) -> Result<PathBuf, InferError> {
        let dir = self.root.join(name);
        if name.contains(['/', '\\']) || name.starts_with('.') || !dir.join(MANIFEST_FILE).is_file()
        {
            let known: Vec<String> = self
                .list()
                .map(|l| l.into_iter().map(|m| m.name).collect())
                .unwrap_or_default();
            return Err(InferError::Registry(format!(
                "no model named {name:?} (registered: {}); add one with `voxide model add <folder>`",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        }
        Ok(dir)
    }

    /// Loads the model `name`.
    pub fn load(&self, name: &str) -> Result<Model, InferError> {
        Model::load(&self.path(name)?)
    }

    /// The manifests of every registered model, by name.
    pub fn list(&self) -> Result<Vec<Manifest>, InferError> {
        if !self.root.exists() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io(&self.root))? {
            let entry = entry.map_err(io(&self.root))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.')
                || !entry.path().join(MANIFEST_FILE).is_file()
            {
                continue;
            }
            out.push(Manifest::read(&entry.path())?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes the model `name`.
    pub fn remove(&self, name: &str) -> Result<(), InferError> {
        let dir = self.path(name)?;
        std::fs::remove_dir_all(&dir).map_err(io(&dir))
    }
}
