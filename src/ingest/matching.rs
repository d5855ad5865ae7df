//! The configured rules compiled into one indexed set, and matching a feed's stories
//! against it.

use crate::config::{Feed, Rule};
use crate::rules::RuleSet;
use crate::store::{Incoming, IncomingHit};
use crate::story::Story;

/// The config's rules compiled into one indexed set.
#[derive(Debug)]
pub struct CompiledRules {
    set: RuleSet,
    rules: Vec<Rule>,
}

impl CompiledRules {
    pub fn new(rules: &[Rule]) -> CompiledRules {
        CompiledRules {
            set: RuleSet::new(rules.iter().map(|r| r.query.clone())),
            rules: rules.to_vec(),
        }
    }

    /// Every story of a feed with the rules it matches, ready for the store.
    pub fn match_stories(
        &self,
        stories: Vec<Story>,
        feed_name: &str,
        feed: &Feed,
    ) -> Vec<Incoming> {
        self.match_changed(stories, |_, _| Vec::new(), feed_name, feed)
    }

    /// Like [`CompiledRules::match_stories`], but stories that `unchanged` says the store
    /// holds with the same text (by position, given the stories and their content hashes)
    /// are passed on unmatched: the store would find them unchanged and drop their hits.
    pub fn match_changed(
        &self,
        stories: Vec<Story>,
        unchanged: impl FnOnce(&[Story], &[String]) -> Vec<bool>,
        feed_name: &str,
        feed: &Feed,
    ) -> Vec<Incoming> {
        let hashes: Vec<String> = stories.iter().map(Story::content_hash).collect();
        let unchanged = if stories.is_empty() {
            Vec::new()
        } else {
            unchanged(&stories, &hashes)
        };
        stories
            .into_iter()
            .zip(hashes)
            .enumerate()
            .map(|(i, (story, hash))| {
                let hits = (!unchanged.get(i).copied().unwrap_or(false))
                    .then(|| self.matches(&story, feed_name, feed));
                Incoming::with_hash(hash, story, hits)
            })
            .collect()
    }

    /// The rules a story of this feed matches, with their channels and spans.
    pub fn matches(&self, story: &Story, feed_name: &str, feed: &Feed) -> Vec<IncomingHit> {
        let authors = story.authors.join(", ");
        let categories = story.categories.join(", ");
        let doc = self
            .set
            .document(story.fields(&authors, &categories, feed_name));
        self.set
            .matches(&doc)
            .into_iter()
            .filter_map(|hit| {
                let rule = &self.rules[hit.rule];
                rule.applies_to(feed_name, feed.url.as_str(), &feed.tags)
                    .then(|| IncomingHit {
                        rule: rule.name.clone(),
                        channels: rule.channels.clone(),
                        spans: hit.spans,
                    })
            })
            .collect()
    }
}
