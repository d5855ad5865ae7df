//! `newshound import-opml`: print `[[feed]]` entries for the feeds an OPML file lists.
//! It never edits the configuration; the operator pastes what they want.

use std::io::Write;

use anyhow::{Context, bail};
use quick_xml::events::Event;
use serde::Serialize;
use url::Url;

#[derive(Serialize)]
struct FeedEntry {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// The folders the feed stands in, outermost first: the feed reader's grouping,
    /// for rules' `feeds = ["tag:…"]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

#[derive(Serialize)]
struct Entries {
    feed: Vec<FeedEntry>,
}

/// Reads an OPML file and prints its feeds as TOML, each tagged with the folders it
/// stands in (outlines holding outlines, without an `xmlUrl`), except those the config
/// lists already (`configured`, its feeds' URLs: under the same address, or the same
/// written another way — `http`/`https`, `www.`, a trailing slash), which are named on
/// stderr: the rest can be pasted as they are. Outlines without a usable http(s)
/// `xmlUrl` are skipped with a note on stderr. The bytes are read as feeds are: a
/// byte-order mark, UTF-8, or the XML declaration's encoding (a file exported in
/// windows-1251 or UTF-16). Returns how many feeds it printed.
pub fn import_opml(
    bytes: &[u8],
    configured: &[&str],
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let opml = crate::story::decode(bytes, None, crate::story::LOCAL_FILE_LIMIT)
        .map(|decoded| decoded.text)
        .unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned());
    let mut reader = quick_xml::Reader::from_str(&opml);
    let mut feeds: Vec<FeedEntry> = Vec::new();
    // For each outline open around the current place: its name when it is a folder.
    let mut open: Vec<Option<String>> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .with_context(|| format!("reading the OPML at byte {}", reader.buffer_position()))?;
        let (e, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) if e.local_name().as_ref().eq_ignore_ascii_case("outline") => {
                open.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        if !e.local_name().as_ref().eq_ignore_ascii_case("outline") {
            continue;
        }
        let mut url = None;
        let mut title = None;
        let mut text = None;
        for attribute in e.attributes().flatten() {
            // White space collapsed: a name or folder written over several lines (or
            // with `&#10;`) is one line in the config, the logs and the alerts.
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            match attribute.key.local_name().as_ref() {
                "xmlUrl" | "xmlurl" => url = Some(value),
                "title" => title = Some(value),
                "text" => text = Some(value),
                _ => {}
            }
        }
        let name = title.or(text).filter(|n| !n.is_empty());
        let Some(url) = url else {
            if !empty {
                open.push(name);
            }
            continue;
        };
        if !empty {
            open.push(None);
        }
        let folders = open.iter().flatten().cloned();
        // `feed://host/path` is how a browser hands a feed to a reader: the address is
        // `http://host/path` (or, written `feed:https://…`, the address after it).
        let address = match url.strip_prefix("feed:") {
            Some(rest) if rest.starts_with("http") => rest.to_owned(),
            Some(rest) => format!("http:{rest}"),
            None => url.clone(),
        };
        match Url::parse(&address) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                match feeds.iter_mut().find(|f| f.url == parsed.as_str()) {
                    // Listed in another folder too: it carries both.
                    Some(known) => {
                        for folder in folders {
                            if !known.tags.contains(&folder) {
                                known.tags.push(folder);
                            }
                        }
                    }
                    None => feeds.push(FeedEntry {
                        url: parsed.into(),
                        name,
                        tags: folders.collect(),
                    }),
                }
            }
            _ => eprintln!("newshound: skipping outline with unusable xmlUrl {url:?}"),
        }
    }
    if feeds.is_empty() {
        bail!("the OPML lists no feeds (no <outline> with an http(s) xmlUrl)");
    }
    let listed = feeds.len();
    let (known, feeds): (Vec<FeedEntry>, Vec<FeedEntry>) = feeds
        .into_iter()
        .partition(|feed| in_config(&feed.url, configured));
    for feed in &known {
        eprintln!(
            "newshound: left out {}: the config lists it already",
            crate::fetch::shown(&feed.url)
        );
    }
    if feeds.is_empty() {
        writeln!(
            out,
            "# nothing to import: the config lists {} already",
            match listed {
                1 => "the OPML's one feed".to_owned(),
                n => format!("all {n} of the OPML's feeds"),
            }
        )?;
        return Ok(0);
    }
    let count = feeds.len();
    let left_out = match known.len() {
        0 => String::new(),
        1 => " (1 feed the config lists already is left out)".to_owned(),
        n => format!(" ({n} feeds the config lists already are left out)"),
    };
    writeln!(
        out,
        "# {} imported from OPML; paste into newshound.toml{left_out}",
        crate::story::counted(count, "feed", "feeds")
    )?;
    write!(out, "{}", toml::to_string(&Entries { feed: feeds })?)?;
    Ok(count)
}

/// Whether the config lists the feed at `url`, under that address or the same address
/// written another way ([`crate::story::canonical::same_page_elsewhere`]).
fn in_config(url: &str, configured: &[&str]) -> bool {
    configured.contains(&url)
        || crate::story::canonical::same_page_elsewhere(url)
            .iter()
            .any(|other| configured.contains(&other.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_feed_entries() {
        let opml = r#"<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
            <outline text="News"><outline type="rss" text="BBC &amp; co" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
            <outline text="Meduza" title="Медуза" xmlUrl="https://meduza.io/rss/all"/>
            <outline text="bad" xmlUrl="ftp://x/y"/></outline></body></opml>"#;
        let mut out = Vec::new();
        assert_eq!(import_opml(opml.as_bytes(), &[], &mut out).unwrap(), 2);
        let text = String::from_utf8(out).unwrap();
        let parsed: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(parsed["feed"][0]["name"].as_str(), Some("BBC & co"));
        assert_eq!(parsed["feed"][0]["tags"][0].as_str(), Some("News"));
        assert_eq!(
            parsed["feed"][1]["url"].as_str(),
            Some("https://meduza.io/rss/all")
        );
        assert!(import_opml(b"<opml><body/></opml>", &[], &mut Vec::new()).is_err());
    }

    #[test]
    fn names_and_folders_written_over_several_lines_are_one_line() {
        let opml = "<opml><body><outline text=\"World&#10;  news\">\
            <outline text=\"BBC&#10;World\" xmlUrl=\" https://feeds.bbci.co.uk/news/world/rss.xml&#10;\"/>\
            </outline></body></opml>";
        let mut out = Vec::new();
        import_opml(opml.as_bytes(), &[], &mut out).unwrap();
        let parsed: toml::Value = toml::from_str(&String::from_utf8(out).unwrap()).unwrap();
        assert_eq!(parsed["feed"][0]["name"].as_str(), Some("BBC World"));
        assert_eq!(parsed["feed"][0]["tags"][0].as_str(), Some("World news"));
        assert_eq!(
            parsed["feed"][0]["url"].as_str(),
            Some("https://feeds.bbci.co.uk/news/world/rss.xml")
        );
    }
}
