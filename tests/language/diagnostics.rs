//! The error corpus: every file under `tests/cases/errors` fails to load, and
//! its rendered diagnostics (codespan text, as `mspl check` prints them) are
//! snapshotted beside it as `diagnostics@<file>.snap`.

use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::Limits;

#[test]
fn diagnostics() {
    insta::with_settings!({snapshot_path => "../cases/errors", prepend_module_to_snapshot => false}, {
        insta::glob!("../cases", "errors/*.{mspl,cedar,cedarschema}", |path| {
            let text = std::fs::read_to_string(path).expect("readable");
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
            let mut loader = Loader::new(Limits::default());
            loader.add_source(name.clone(), text);
            let (set, diagnostics) = loader.finish(IdScheme::Annotated);
            assert!(!diagnostics.is_empty(), "{name}: expected at least one error");
            insta::assert_snapshot!(set.sources.render(&diagnostics, false));
        });
    });
}
