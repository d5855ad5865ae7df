//! Canonical story links: one form per article, so the same story reached through
//! different tracking links, or carried by two feeds, is recognised as one.

use url::Url;

/// Query parameters that only track the reader.
fn is_tracking(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with("utm_")
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
            .filter(|(k, _)| !is_tracking(k))
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

#[cfg(test)]
mod tests {
    use super::*;

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
