//! The Model Studio policies as mspl loads them, prepared, and a generated
//! world's store for them: what the benchmarks and tests that judge with
//! mspl start from.

#![allow(dead_code)]

use mspl::__internal::entities::build::build_entities;
use mspl::__internal::{Entities, IdScheme, Limits, Loader, Options, PolicySet, PreparedSet};
use std::path::{Path, PathBuf};

/// `policies/model_studio` of the repository.
pub fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/model_studio")
}

/// The policies at `path` (a file or a folder), loaded and linked.
pub fn load(path: &Path) -> PolicySet {
    let mut loader = Loader::new(Limits::default());
    loader.add_path(path);
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(
        diagnostics.is_empty(),
        "{}",
        set.sources.render(&diagnostics, false)
    );
    set
}

/// The Model Studio policies, prepared under `options`.
pub fn prepared(options: Options) -> PreparedSet {
    PreparedSet::new(load(&folder()), options)
}

/// The store of entity JSON `json` for `set`'s declarations.
pub fn store(set: &PolicySet, json: &str) -> Entities {
    build_entities(&set.schema, [("world.json", json)]).expect("the world loads")
}
