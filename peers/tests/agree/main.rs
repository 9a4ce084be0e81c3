//! The peers agree: mspl against Cedar and Rego on generated worlds, Cedar's
//! JSON formats and lexical rules, the audit against brute force on Model
//! Studio worlds. One test binary (each links the whole crate); a module per area.

#[path = "../../support/model_studio.rs"]
mod model_studio;

#[path = "../../../tests/support/shared_data.rs"]
mod shared_data;

#[path = "../../../tests/support/skip.rs"]
mod skip;

mod audit;
mod cedar_json;
mod cedar_rules;
mod differential;
mod lexical;
mod rego;
mod sensitivity;
mod templates;
mod tpe;
mod world;
