//! What the request path checks before forwarding: the budgets with a hard limit that are used
//! up, as the budget watcher last saw them. Reading it takes a lock for a pointer copy; the request
//! path never queries MySQL.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    pub name: String,
    pub period: &'static str,
    /// `None`: every model.
    pub model: Option<String>,
    /// `None`: every caller.
    pub client_key: Option<String>,
    /// When the period ends and the budget is fresh again.
    pub until: DateTime<Utc>,
}

#[derive(Clone, Default)]
pub struct BudgetGate {
    exhausted: Arc<RwLock<Arc<Vec<Exhausted>>>>,
}

impl BudgetGate {
    pub fn set(&self, exhausted: Vec<Exhausted>) {
        *self.exhausted.write().unwrap() = Arc::new(exhausted);
    }

    /// The used-up budget this call falls under, if any. A model-scoped budget matches the client
    /// or the upstream name; calls whose model is not known are held only by unscoped budgets.
    pub fn check(&self, models: &[&str], client_key: Option<&str>) -> Option<Exhausted> {
        let exhausted = self.exhausted.read().unwrap().clone();
        let now = Utc::now();
        exhausted
            .iter()
            .find(|b| {
                now < b.until
                    && b.model.as_deref().is_none_or(|m| models.contains(&m))
                    && b.client_key.as_deref().is_none_or(|k| client_key == Some(k))
            })
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(model: Option<&str>, key: Option<&str>) -> Exhausted {
        Exhausted {
            name: "b".into(),
            period: "day",
            model: model.map(String::from),
            client_key: key.map(String::from),
            until: Utc::now() + chrono::TimeDelta::hours(1),
        }
    }

    #[test]
    fn scopes_match_model_and_key() {
        let gate = BudgetGate::default();
        assert_eq!(gate.check(&["gpt-4o"], None), None);
        gate.set(vec![budget(Some("claude-sonnet-4"), None), budget(None, Some("key-1"))]);
        assert!(gate.check(&["gpt-4o", "claude-sonnet-4"], None).is_some());
        assert!(gate.check(&["gpt-4o", "gpt-4o"], None).is_none());
        assert!(gate.check(&[], Some("key-1")).is_some());
        assert!(gate.check(&["gpt-4o"], Some("key-2")).is_none());
        let mut over = budget(None, None);
        over.until = Utc::now() - chrono::TimeDelta::seconds(1);
        gate.set(vec![over]);
        assert!(gate.check(&["x"], None).is_none(), "a new period starts fresh");
    }
}
