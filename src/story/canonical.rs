//! Canonical story links: one form per article, so the same story reached through
//! different tracking links, or carried by two feeds, is recognised as one.

use url::Url;

/// Query parameters that only track the reader — or which of an outlet's feeds the
/// reader came from (`xtor=RSS-3208`, `feedName=worldNews`, `wprss=rss_world`), which
/// would make an article listed in two of its section feeds two stories. A few common
/// names are tracking only with a feed for their value (`ref=rss`, `source=rss-…`).
fn is_tracking(key: &str, value: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let from_a_feed = || {
        let value = value.to_ascii_lowercase();
        value.starts_with("rss") || value.starts_with("feed")
    };
    (matches!(key.as_str(), "ref" | "src" | "source" | "from" | "partner") && from_a_feed())
        || key.starts_with("utm_")
        || matches!(
            key.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "gbraid"
                | "wbraid"
                | "msclkid"
                | "yclid"
                | "mc_cid"
                | "mc_eid"
                | "_hsenc"
                | "_hsmi"
                | "igshid"
                | "mkt_tok"
                | "oly_anon_id"
                | "oly_enc_id"
                | "vero_id"
                | "wt_mc"
                | "cmpid"
                | "ocid"
                | "ito"
                | "at_medium"
                | "at_campaign"
                | "ns_mchannel"
                | "ns_campaign"
                | "ns_source"
                | "ns_linkname"
                | "ns_fee"
                | "ref_src"
                // Which feed or campaign a reader came from: AT Internet's (Le Monde and
                // other French sites), the New York Times', the Washington Post's,
                // Reuters', the Guardian's, Yahoo's; `rss=1` (HighWire's journals).
                | "xtor"
                | "emc"
                | "smid"
                | "mwrsm"
                | "_r"
                | "wprss"
                | "feedtype"
                | "feedname"
                | "cmp"
                | "ncid"
                | "s_cid"
                | "icid"
                | "rss"
                // Session ids: a server that puts one in its links would make every
                // story new on every fetch.
                | "phpsessid"
                | "jsessionid"
                | "sessionid"
                | "cfid"
                | "cftoken"
        )
        || key.starts_with("aspsessionid")
}

/// The canonical form of a story link, resolved against `base` when relative:
/// scheme and host lower-cased, default port, fragment and tracking parameters dropped.
/// `None` for links that are not http(s).
pub fn canonical_link(link: &str, base: Option<&Url>) -> Option<String> {
    let link = link.trim();
    let mut url = match Url::parse(link) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(link).ok()?,
        Err(_) => return None,
    };
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    // The url crate already lower-cases scheme and host and drops default ports.
    url.set_fragment(None);
    // Credentials are not part of a story's address, and must not travel in alerts (a
    // relative link in a feed read as https://user:password@host/feed inherits them).
    let _ = url.set_username("");
    let _ = url.set_password(None);
    // A Java server's session id rides in the path: `/story;jsessionid=AB12?x=1`.
    if let Some(at) = url.path().to_ascii_lowercase().find(";jsessionid=") {
        let path = url.path();
        let end = path[at + 1..].find(';').map_or(path.len(), |e| at + 1 + e);
        let path = format!("{}{}", &path[..at], &path[end..]);
        url.set_path(&path);
    }
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, v)| !is_tracking(k, v))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.into())
}

/// The article behind a search engine's redirect, in canonical form, when `link` (a
/// canonical link) is one: Google's (`https://www.google.com/url?…&url=ARTICLE&…`, the
/// links of every Google Alerts feed), Bing News's (`/news/apiclick.aspx?…&url=…`), and
/// Google News's older article links, whose last segment is the article's address in a
/// small protobuf message, base64-encoded (`/rss/articles/CBMi…`; the newer ones are
/// encrypted, and stay as they are). The article is then the same story as the site's
/// own feed's copy, and its alert links to it, not through the redirect.
pub fn redirect_target(link: &str) -> Option<String> {
    // Every story's link passes here: most are turned away without being parsed again.
    let finder = |needle: &str| memchr::memmem::find(link.as_bytes(), needle.as_bytes());
    finder("google.com/").or_else(|| finder("bing.com/"))?;
    let url = Url::parse(link).ok()?;
    let host = url.host_str()?;
    let param = |names: &[&str]| {
        names.iter().find_map(|name| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
    };
    let target = match (host, url.path()) {
        ("www.google.com" | "google.com", "/url") => param(&["url", "q"])?,
        ("www.bing.com" | "bing.com", path) if path.eq_ignore_ascii_case("/news/apiclick.aspx") => {
            param(&["url"])?
        }
        ("news.google.com", path)
            if path.starts_with("/rss/articles/") || path.starts_with("/__i/rss/rd/articles/") =>
        {
            google_news_article(path.rsplit('/').next()?)?
        }
        _ => return None,
    };
    // Only an absolute address: never one read against the redirect's own.
    let target = Url::parse(&target).ok()?;
    canonical_link(target.as_str(), None).filter(|t| t != link)
}

/// The other ways a site may write the address of the same page: under the other scheme,
/// with or without `www.`, with or without a trailing slash (on a path without a query).
/// A site that moves to HTTPS, to its bare domain or to other permalink settings changes
/// every address its feed lists at once; a feed's story found under one of these is
/// that story, not a new one. Empty for anything but an `http(s)://` address.
pub fn same_page_elsewhere(address: &str) -> Vec<String> {
    let (scheme, rest) = if let Some(rest) = address.strip_prefix("https://") {
        ("https://", rest)
    } else if let Some(rest) = address.strip_prefix("http://") {
        ("http://", rest)
    } else {
        return Vec::new();
    };
    let (host, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    if host.is_empty() {
        return Vec::new();
    }
    let other_scheme = if scheme == "https://" {
        "http://"
    } else {
        "https://"
    };
    let other_host = match host.strip_prefix("www.") {
        Some(bare) => bare.contains('.').then(|| bare.to_owned()),
        None => host.contains('.').then(|| format!("www.{host}")),
    };
    let other_tail = match tail.strip_suffix('/') {
        _ if tail.len() <= 1 || tail.contains(['?', '#']) => None,
        Some(without) => Some(without.to_owned()),
        None => Some(format!("{tail}/")),
    };
    let mut variants = Vec::with_capacity(7);
    for s in [scheme, other_scheme] {
        for h in std::iter::once(host).chain(other_host.as_deref()) {
            for t in std::iter::once(tail).chain(other_tail.as_deref()) {
                // (Joined by hand: `format!` costs several times as much, and this runs
                // for every entry new to a feed.)
                let mut variant = String::with_capacity(s.len() + h.len() + t.len());
                variant.push_str(s);
                variant.push_str(h);
                variant.push_str(t);
                if variant != address {
                    variants.push(variant);
                }
            }
        }
    }
    variants
}

/// The address in a Google News article id of the older kind: base64url of a protobuf
/// message whose field 4 (after a field 1 varint) is the article's URL.
fn google_news_article(id: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id.trim_end_matches('='))
        .ok()?;
    let mut rest = bytes.as_slice();
    let varint = |rest: &mut &[u8]| -> Option<usize> {
        let mut value = 0usize;
        for shift in (0..35).step_by(7) {
            let (&byte, tail) = rest.split_first()?;
            *rest = tail;
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    };
    if rest.first() == Some(&0x08) {
        rest = &rest[1..];
        varint(&mut rest)?;
    }
    let (&tag, tail) = rest.split_first()?;
    rest = tail;
    if tag != 0x22 {
        return None;
    }
    let len = varint(&mut rest)?;
    let url = std::str::from_utf8(rest.get(..len)?).ok()?;
    (url.starts_with("https://") || url.starts_with("http://")).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_page_is_found_under_a_sites_other_addresses() {
        assert_eq!(
            same_page_elsewhere("http://www.news.example/2026/talks"),
            [
                "http://www.news.example/2026/talks/",
                "http://news.example/2026/talks",
                "http://news.example/2026/talks/",
                "https://www.news.example/2026/talks",
                "https://www.news.example/2026/talks/",
                "https://news.example/2026/talks",
                "https://news.example/2026/talks/",
            ]
        );
        // A query chooses the page: its slash is left alone, as is the site's root.
        assert_eq!(
            same_page_elsewhere("https://news.example/?p=123"),
            [
                "https://www.news.example/?p=123",
                "http://news.example/?p=123",
                "http://www.news.example/?p=123",
            ]
        );
        // A host without a dot gets no `www.`; only the scheme changes.
        assert_eq!(
            same_page_elsewhere("https://localhost:8080"),
            ["http://localhost:8080"]
        );
        for other in [
            "urn:uuid:1",
            "tag:news.example,2026:1",
            "https://",
            "ftp://x.example/a",
        ] {
            assert!(same_page_elsewhere(other).is_empty(), "{other}");
        }
    }

    #[test]
    fn search_engine_redirects_lead_to_their_articles() {
        let target = |s: &str| redirect_target(&canonical_link(s, None).unwrap());
        // Google Alerts.
        assert_eq!(
            target(
                "https://www.google.com/url?rct=j&sa=t&url=https://investorplace.com/2019/07/slack-stock/&ct=ga&cd=CAIyHGU4&usg=AFQjCNEZ"
            )
            .as_deref(),
            Some("https://investorplace.com/2019/07/slack-stock/")
        );
        // An article address with a query of its own is escaped in the redirect's;
        // its tracking parameters go as any link's do.
        assert_eq!(
            target(
                "https://www.google.com/url?q=https%3A%2F%2Fnews.example%2Fa%3Fid%3D5%26utm_source%3Dga&sa=D"
            )
            .as_deref(),
            Some("https://news.example/a?id=5")
        );
        // Bing News.
        assert_eq!(
            target(
                "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=12BE&url=https%3a%2f%2fwww.dailymail.co.uk%2fsport%2farticle-9554407%2fSuper-League.html&c=4438&mkt=it-it"
            )
            .as_deref(),
            Some("https://www.dailymail.co.uk/sport/article-9554407/Super-League.html")
        );
        // Google News, older ids: the address is inside.
        assert_eq!(
            target("https://news.google.com/__i/rss/rd/articles/CBMiWWh0dHBzOi8vd3d3LmNubi5jb20vMjAyMi8wNy8yNy9wb2xpdGljcy9zY2h1bWVyLW1hbmNoaW4tZGVhbC1idWlsZC1iYWNrLWJldHRlci9pbmRleC5odG1s0gFdaHR0cHM6Ly9hbXAuY25uLmNvbS9jbm4vMjAyMi8wNy8yNy9wb2xpdGljcy9zY2h1bWVyLW1hbmNoaW4tZGVhbC1idWlsZC1iYWNrLWJldHRlci9pbmRleC5odG1s?oc=5").as_deref(),
            Some("https://www.cnn.com/2022/07/27/politics/schumer-manchin-deal-build-back-better/index.html")
        );
        assert_eq!(
            target("https://news.google.com/rss/articles/CBMiiwFodHRwczovL3d3dy5ydGJmLmJlL2luZm8vc29jaWV0ZS9kZXRhaWxfY29yb25hdmlydXMtZW4tYmVsZ2lxdWUtMjAwLWNhcy1kZXRlY3Rlcy1hdS10b3RhbC1sYS1jaXJjdWxhdGlvbi1kdS12aXJ1cy1yZXN0ZS1saW1pdGVlP2lkPTEwNDUwNzkz0gEA?oc=5").as_deref(),
            Some("https://www.rtbf.be/info/societe/detail_coronavirus-en-belgique-200-cas-detectes-au-total-la-circulation-du-virus-reste-limitee?id=10450793")
        );
        // What is not such a redirect, or leads nowhere usable, stays as it is.
        for link in [
            // Google News, newer (encrypted) ids.
            "https://news.google.com/rss/articles/CBMiqwFBVV95cUxNMXJhbmRvbQ?oc=5",
            "https://news.google.com/rss/articles/!!!",
            "https://news.google.com/?hl=fr&gl=BE&ceid=BE:fr",
            // Another page of Google News whose last segment is an article's id.
            "https://news.google.com/topics/CBMiiwFodHRwczovL3d3dy5ydGJmLmJlL2luZm8vc29jaWV0ZS9kZXRhaWxfY29yb25hdmlydXMtZW4tYmVsZ2lxdWUtMjAwLWNhcy1kZXRlY3Rlcy1hdS10b3RhbC1sYS1jaXJjdWxhdGlvbi1kdS12aXJ1cy1yZXN0ZS1saW1pdGVlP2lkPTEwNDUwNzkz0gEA",
            // A search, a relative or a non-web target, another site's /url.
            "https://www.google.com/search?q=https://news.example/a",
            "https://www.google.com/url?url=/relative&sa=t",
            "https://www.google.com/url?q=javascript:alert(1)",
            "https://www.google.com/url?sa=t",
            "https://news.example/url?url=https://elsewhere.example/",
            "https://www.bing.com/search?url=https://news.example/",
        ] {
            assert_eq!(target(link), None, "{link}");
        }
    }

    #[test]
    fn which_of_an_outlets_feeds_a_reader_came_from_is_dropped() {
        let c = |s| canonical_link(s, None).unwrap();
        for (link, canonical) in [
            (
                "https://www.lemonde.fr/a.html?xtor=RSS-3208",
                "https://www.lemonde.fr/a.html",
            ),
            (
                "http://www.reuters.com/article/idUSKBN14R0D4?feedType=RSS&feedName=worldNews",
                "http://www.reuters.com/article/idUSKBN14R0D4",
            ),
            (
                "https://www.nytimes.com/2017/01/06/a.html?partner=rss&emc=rss&smid=tw-share",
                "https://www.nytimes.com/2017/01/06/a.html",
            ),
            (
                "https://www.washingtonpost.com/a?wprss=rss_world",
                "https://www.washingtonpost.com/a",
            ),
            (
                "http://derstandard.at/2000049985169/a?ref=rss",
                "http://derstandard.at/2000049985169/a",
            ),
            (
                "https://medium.com/@x/a-16f4?source=rss-103cb4------2",
                "https://medium.com/@x/a-16f4",
            ),
            (
                "http://biorxiv.org/cgi/content/short/2023.12.16.571984v1?rss=1",
                "http://biorxiv.org/cgi/content/short/2023.12.16.571984v1",
            ),
            (
                "https://news.example/a?id=5&from=rss&CMP=share",
                "https://news.example/a?id=5",
            ),
            // The same names with another value may choose the page: kept.
            (
                "https://news.example/a?source=archive&ref=2",
                "https://news.example/a?source=archive&ref=2",
            ),
        ] {
            assert_eq!(c(link), canonical, "{link}");
        }
    }

    #[test]
    fn canonical_forms() {
        let c = |s| canonical_link(s, None);
        assert_eq!(
            c("HTTPS://Example.COM:443/News/A?utm_source=rss&id=5#top").as_deref(),
            Some("https://example.com/News/A?id=5")
        );
        assert_eq!(
            c("http://example.com:80/a?fbclid=x&gclid=y&mc_cid=z").as_deref(),
            Some("http://example.com/a")
        );
        assert_eq!(
            c("https://example.com/a;jsessionid=0A1B?PHPSESSID=f00&ASPSESSIONIDQQ=x&id=5&sid=9")
                .as_deref(),
            Some("https://example.com/a?id=5&sid=9")
        );
        assert_eq!(
            c("https://example.com/a;JSESSIONID=0A1B;v=2").as_deref(),
            Some("https://example.com/a;v=2")
        );
        assert_eq!(
            c("http://example.com:8080/a").as_deref(),
            Some("http://example.com:8080/a")
        );
        assert_eq!(c("mailto:a@b.c"), None);
        assert_eq!(c("/relative"), None);
        let base = Url::parse("https://example.com/feed/").unwrap();
        assert_eq!(
            canonical_link("../story/1", Some(&base)).as_deref(),
            Some("https://example.com/story/1")
        );
        let private = Url::parse("https://reader:s3cret@example.com/feed/").unwrap();
        assert_eq!(
            canonical_link("../story/1", Some(&private)).as_deref(),
            Some("https://example.com/story/1"),
            "credentials stay out of links"
        );
    }
}
