//! Invalidation on write: which cached paths a successful unsafe request makes stale.

use actix_web::http::Method;

use super::rules::PurgeRule;

#[derive(Debug)]
pub struct PurgeRules(Vec<PurgeRule>);

impl PurgeRules {
    pub fn new(rules: Vec<PurgeRule>) -> Self {
        Self(rules)
    }

    /// Prefixes to purge after a successful `method` request to `path`.
    pub fn prefixes_for<'a>(
        &'a self,
        method: &'a Method,
        path: &'a str,
    ) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |rule| rule.method == method && path.starts_with(rule.prefix.as_str()))
            .flat_map(|rule| rule.purges.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::{FileConfig, Settings};

    #[test]
    fn default_rule_purges_history_after_analyze() {
        let rules = PurgeRules::new(
            Settings::validate(FileConfig::default())
                .unwrap()
                .cache
                .purge,
        );
        let hit: Vec<_> = rules.prefixes_for(&Method::POST, "/analyze").collect();
        assert_eq!(hit, ["/history"]);
        assert_eq!(rules.prefixes_for(&Method::PUT, "/analyze").count(), 0);
        assert_eq!(rules.prefixes_for(&Method::POST, "/other").count(), 0);
    }
}
