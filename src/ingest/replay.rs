//! A rule added or changed meets the stories already stored.
//!
//! Rules are matched as stories arrive, so a rule written because of the news — the
//! story that prompted it fetched minutes before — would otherwise never see that story.
//! Each rule is known by what it matches (its query and its `feeds`), not by its name: a
//! rule renamed is not new, and one whose query changed is. Once, when the configuration
//! is loaded (the daemon's start and reloads, `once`), every rule the stored stories have
//! not been matched against is matched against the stories first seen within
//! `[alerts] replay`; its hits are recorded, and alerted as any hit is (not for a story
//! older than `[alerts] max_age`), in the transaction that records the rule as applied.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::CompiledRules;
use crate::config::{Config, Feed, FeedFilter, Rule};
use crate::store::{Replayed, Store, StoreError};
use crate::story::{Story, hex};

/// What a replay did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayReport {
    /// Rules matched against the stored stories for the first time.
    pub rules: usize,
    /// Stories they were matched against.
    pub stories: usize,
    pub hits: usize,
    pub alerts: usize,
}

/// What a rule matches, as a key: its query and its `feeds`.
fn fingerprint(rule: &Rule) -> String {
    let mut h = Sha256::new();
    h.update(rule.query.source().as_bytes());
    for filter in &rule.feeds {
        h.update([0]);
        match filter {
            FeedFilter::Tag(tag) => h.update(format!("tag:{tag}").as_bytes()),
            FeedFilter::Name(name) => h.update(name.as_bytes()),
        }
    }
    hex(&h.finalize()[..16])
}

/// Matches the rules the stored stories have not been matched against with the stories
/// first seen within `[alerts] replay` of `now`, and records the hits, their alerts and
/// the rules as applied.
pub fn replay_new_rules(
    store: &mut Store,
    config: &Config,
    now: i64,
) -> Result<ReplayReport, StoreError> {
    let fingerprints: Vec<String> = config.rules.iter().map(fingerprint).collect();
    let unapplied = store.unapplied_rules(&fingerprints)?;
    let new: Vec<(Rule, String)> = config
        .rules
        .iter()
        .zip(fingerprints)
        .zip(unapplied)
        .filter(|(_, unapplied)| *unapplied)
        .map(|((rule, fingerprint), _)| (rule.clone(), fingerprint))
        .collect();
    if new.is_empty() {
        return Ok(ReplayReport::default());
    }
    let (stories, found) = if config.alerts.replay.is_zero() {
        (0, Vec::new())
    } else {
        let rules: Vec<Rule> = new.iter().map(|(rule, _)| rule.clone()).collect();
        let compiled = CompiledRules::new(&rules);
        let feeds: HashMap<&str, &Feed> =
            config.feeds.iter().map(|f| (f.url.as_str(), f)).collect();
        let since = now - config.alerts.replay.as_secs() as i64;
        // The stories are matched as they are read; only those a rule hits are kept.
        let mut read = 0;
        let found = store.with_stories_to_replay(since, |stored| {
            stored
                .inspect(|_| read += 1)
                // A feed taken out of the config is not read, and neither are its stories.
                .filter_map(|(url, s)| Some((*feeds.get(url.as_str())?, s)))
                .filter_map(|(feed, s)| {
                    let (story_id, latest) = (s.id, s.latest_date());
                    // Authors and categories are stored joined as matching joins them.
                    let story = Story {
                        identity: String::new(),
                        link: s.link,
                        link_names_others: false,
                        title: s.title,
                        summary: s.summary,
                        content: s.content,
                        authors: vec![s.authors],
                        categories: vec![s.categories],
                        published: None,
                        updated: None,
                    };
                    let hits = compiled.matches(&story, &s.feed, feed);
                    (!hits.is_empty()).then_some(Replayed {
                        story_id,
                        latest,
                        hits,
                    })
                })
                .collect()
        })?;
        (read, found)
    };
    let applied: Vec<(String, String)> = new
        .iter()
        .map(|(rule, fingerprint)| (fingerprint.clone(), rule.name.clone()))
        .collect();
    let max_age = config.alerts.max_age.as_secs() as i64;
    let (hits, alerts) = store.record_replay(&found, &applied, now, max_age)?;
    let report = ReplayReport {
        rules: new.len(),
        stories,
        hits,
        alerts,
    };
    if stories > 0 {
        // Named up to ten: a first start with a thousand rules is one line, not 12 KB.
        let mut names: Vec<&str> = new
            .iter()
            .take(10)
            .map(|(rule, _)| rule.name.as_str())
            .collect();
        let more = new.len().saturating_sub(names.len());
        let more = (more > 0).then(|| format!("and {more} more"));
        names.extend(more.as_deref());
        tracing::info!(
            rules = %names.join(", "),
            stories,
            hits,
            alerts,
            "rules added or changed were matched against the stories already stored"
        );
    }
    Ok(report)
}
