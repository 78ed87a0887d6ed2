//! An operation's policy: whether it needs a key, which scope, and whether it counts
//! against the project's budget. A plugin declares it beside its operations
//! ([`crate::Mounted::public`], [`crate::Mounted::uncounted`], [`crate::Mounted::scope`]);
//! [`resolve`] holds each declaration to the plugin's own operations when it is mounted.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// What the request path checks before an operation's handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Served without a key (and so never counted, never scoped).
    pub public: bool,
    /// Counted against the project's hourly budget.
    pub counted: bool,
    /// The scope a key needs, if any.
    pub scope: Option<String>,
}

impl Policy {
    /// A keyed, counted operation needing `scope`: what an undeclared operation gets.
    pub fn keyed(scope: Option<&str>) -> Policy {
        Policy {
            public: false,
            counted: true,
            scope: scope.map(str::to_owned),
        }
    }

    /// Served without a key.
    pub fn public() -> Policy {
        Policy {
            public: true,
            counted: false,
            scope: None,
        }
    }
}

/// Policies by operationId.
pub type Policies = BTreeMap<String, Policy>;

/// What a plugin declared about its operations, before it is checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Declarations {
    pub(crate) scope: Option<String>,
    pub(crate) public: BTreeSet<String>,
    pub(crate) uncounted: BTreeSet<String>,
}

/// A declaration named an operation that is not the plugin's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("its policy names the operation `{operation_id}`, which is not one of its operations")]
pub struct NotItsOperation {
    pub operation_id: String,
}

/// Every operation of `spec` with its policy; a declaration naming an operation that
/// `spec` does not hold (misspelt, or another plugin's) is refused.
pub(crate) fn resolve(spec: &Value, declared: &Declarations) -> Result<Policies, NotItsOperation> {
    let own = operation_ids(spec);
    if let Some(stray) = declared
        .public
        .iter()
        .chain(&declared.uncounted)
        .find(|id| !own.contains(*id))
    {
        return Err(NotItsOperation {
            operation_id: stray.clone(),
        });
    }
    Ok(own
        .into_iter()
        .map(|id| {
            let policy = if declared.public.contains(&id) {
                Policy::public()
            } else {
                let mut policy = Policy::keyed(declared.scope.as_deref());
                policy.counted = !declared.uncounted.contains(&id);
                policy
            };
            (id, policy)
        })
        .collect())
}

/// The operationIds of a plugin's document.
pub(crate) fn operation_ids(spec: &Value) -> BTreeSet<String> {
    spec.get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(|operation| operation.get("operationId")?.as_str())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Value {
        json!({"paths": {
            "/things": {"get": {"operationId": "listThings"}},
            "/things/budget": {"get": {"operationId": "getThingBudget"}},
            "/things/open": {"get": {"operationId": "getOpenThing"}},
        }})
    }

    fn declared(public: &[&str], uncounted: &[&str]) -> Declarations {
        Declarations {
            scope: Some("things:read".into()),
            public: public.iter().map(|s| (*s).to_owned()).collect(),
            uncounted: uncounted.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn every_operation_gets_a_policy_and_declarations_change_only_theirs() {
        let policies = resolve(&spec(), &declared(&["getOpenThing"], &["getThingBudget"])).unwrap();
        assert_eq!(policies["listThings"], Policy::keyed(Some("things:read")));
        assert_eq!(
            policies["getThingBudget"],
            Policy {
                public: false,
                counted: false,
                scope: Some("things:read".into())
            }
        );
        assert_eq!(policies["getOpenThing"], Policy::public());
    }

    #[test]
    fn a_misspelt_operation_is_refused_by_name() {
        for declared in [declared(&["listThing"], &[]), declared(&[], &["getBudget"])] {
            let err = resolve(&spec(), &declared).unwrap_err();
            assert!(
                ["listThing", "getBudget"].contains(&err.operation_id.as_str()),
                "{err}"
            );
        }
    }
}
