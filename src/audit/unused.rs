//! Unused access, computed exactly: the grants of each principal that none
//! of its allowed requests in a log needed.
//!
//! A grant is reported when taking it away alone flips none of the log's
//! allowed requests of its principal to deny (each request is judged again
//! on the store without it); a grant that is not reported is needed by at
//! least one of them. Taking several reported grants away together may still
//! cut access: a principal holding two grants that each allow a request
//! needs one of them, and each is reported.

use super::grants::{all_grants, without, Grant};
use super::Auditor;
use crate::authorize::Decision;
use crate::entities::json::Request;
use crate::syntax::ast::EntityUid;
use std::collections::BTreeMap;

/// One unused grant.
#[derive(Clone, Debug, PartialEq)]
pub struct Unused {
    /// Whose grant.
    pub principal: EntityUid,
    /// The grant.
    pub grant: Grant,
    /// Why it is reported.
    pub message: String,
}

/// An unused grant in JSON, its keys in this order.
#[derive(serde::Serialize)]
struct UnusedJson<'a> {
    principal: String,
    grant: super::grants::GrantJson,
    message: &'a str,
}

impl Unused {
    /// `{"principal", "grant", "message"}`.
    pub fn to_json(&self) -> String {
        let out = UnusedJson {
            principal: self.principal.to_string(),
            grant: self.grant.to_json(),
            message: &self.message,
        };
        serde_json::to_string(&out).unwrap_or_default()
    }
}

/// The unused grants of every principal of the domain, given the log's
/// `requests`, sorted by principal and grant.
pub fn unused(auditor: &Auditor, requests: &[Request]) -> Vec<Unused> {
    let mut allowed: BTreeMap<&EntityUid, Vec<&Request>> = BTreeMap::new();
    for request in requests {
        if auditor
            .prepared
            .authorize(auditor.entities, request)
            .decision
            == Decision::Allow
        {
            allowed.entry(&request.principal).or_default().push(request);
        }
    }
    let principals = auditor.domain.principals();
    let grants = all_grants(auditor.entities);
    let mut store = auditor.entities.clone();
    let mut out = Vec::new();
    for p in principals {
        let uid = auditor.entities.node_uid(p).clone();
        let Some(own) = grants.get(&uid) else {
            continue;
        };
        let needed_by = allowed.get(&uid).map(Vec::as_slice).unwrap_or(&[]);
        for grant in own {
            let still = without(&mut store, &uid, grant, |store| {
                needed_by
                    .iter()
                    .all(|r| auditor.prepared.authorize(store, r).decision == Decision::Allow)
            });
            if still {
                let message = match needed_by.len() {
                    0 => "the log has no allowed request of this principal".to_string(),
                    1 => "not needed by its one allowed request in the log".to_string(),
                    n => format!("not needed by any of its {n} allowed requests in the log"),
                };
                out.push(Unused {
                    principal: uid.clone(),
                    grant: grant.clone(),
                    message,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (a.principal.to_string(), &a.grant).cmp(&(b.principal.to_string(), &b.grant))
    });
    out
}
