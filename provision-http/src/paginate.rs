//! Paginators: where the next page is, for every style the adapters meet, and the
//! guard that turns a cursor that repeats into an error instead of an endless loop.
//!
//! | style | systems | here |
//! | --- | --- | --- |
//! | `Link: <…>; rel="next"` (the URL copied, never built) | Okta, GitHub, GitLab keyset | [`next_link`] (then [`crate::client::HttpClient::ensure_same_origin`]) |
//! | page token in the body | Google `nextPageToken`, Slack `next_cursor`, AWS `NextToken` | [`next_page_token`] |
//! | `X-Next-Page` header | GitLab offset pages | [`next_page_header`] |
//! | `startIndex`/`count`, 1-based | SCIM (Slack, GitHub, Jira SCIM) | [`ScimPage`] |
//! | `startAt`/`maxResults`/`isLast` | Jira | [`OffsetPage`] |
//!
//! A page's `next` goes to the caller as an opaque string ([`provision_core::adapter::Page::next`]);
//! [`next_cursor`] checks it differs from the cursor the page was read with, and
//! [`CursorGuard`] checks a whole walk inside an adapter.

use std::collections::HashSet;

use provision_core::adapter::{AdapterError, SystemError};
use reqwest::header::{self, HeaderMap};
use url::Url;

/// The URL of `Link: <…>; rel="next"`, exactly as the server sent it (its cursor is
/// opaque: copy it, never build it). Several `Link` headers, several links in one,
/// commas inside the URL and `rel="next prev"` lists are all understood.
pub fn next_link(headers: &HeaderMap) -> Option<Url> {
    headers
        .get_all(header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_links)
        .find(|(_, rels)| rels.iter().any(|r| r.eq_ignore_ascii_case("next")))
        .and_then(|(target, _)| Url::parse(&target).ok())
}

/// `<url>; rel="a b", <url2>; rel=c` → `[(url, [a, b]), (url2, [c])]`.
fn parse_links(value: &str) -> Vec<(String, Vec<String>)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let target = after[..close].trim().to_owned();
        let params_and_more = &after[close + 1..];
        // The parameters run to the next `<` that starts a link (a comma, then `<`).
        let end = params_and_more
            .match_indices('<')
            .map(|(i, _)| i)
            .find(|&i| params_and_more[..i].trim_end().ends_with(','))
            .unwrap_or(params_and_more.len());
        let params = &params_and_more[..end];
        let rels = params
            .split(';')
            .filter_map(|p| {
                let (name, value) = p.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("rel")
                    .then(|| value.trim().trim_end_matches(',').trim().trim_matches('"'))
            })
            .flat_map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        links.push((target, rels));
        rest = &params_and_more[end..];
    }
    links
}

/// A page token from a body field (`nextPageToken`, `next_cursor`, `NextToken`): an
/// absent or empty one means the last page (Slack sends `""`).
pub fn next_page_token(token: Option<String>) -> Option<String> {
    token.filter(|t| !t.trim().is_empty())
}

/// GitLab's `X-Next-Page` header: the next page number, `None` on the last page
/// (where the header is empty). Follow it rather than computing pages: `X-Total-Pages`
/// disappears above 10,000 rows.
pub fn next_page_header(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("x-next-page")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
}

/// A position in a SCIM list (RFC 7644 §3.4.2.4): `startIndex` is **1-based**.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScimPage {
    /// The 1-based index of the first item on the page.
    pub start_index: u64,
    /// How many items to ask for (the server may return fewer).
    pub count: u64,
}

impl ScimPage {
    /// The first page of `count` items.
    pub fn first(count: u64) -> Self {
        Self {
            start_index: 1,
            count,
        }
    }

    /// The query parameters of this page.
    pub fn query(&self) -> [(&'static str, String); 2] {
        [
            ("startIndex", self.start_index.to_string()),
            ("count", self.count.to_string()),
        ]
    }

    /// The page after this one, given the reply's `totalResults` and the number of
    /// `Resources` it held; `None` at the end (an empty page, or every item seen).
    pub fn next(&self, total_results: u64, returned: usize) -> Option<Self> {
        let returned = returned as u64;
        if returned == 0 {
            return None;
        }
        let seen = self.start_index - 1 + returned;
        (seen < total_results).then_some(Self {
            start_index: self.start_index + returned,
            count: self.count,
        })
    }

    /// The page as a cursor string (its start index).
    pub fn to_cursor(&self) -> String {
        self.start_index.to_string()
    }

    /// A cursor made by [`ScimPage::to_cursor`], for `count` items; anything else is
    /// `Invalid` naming `system`.
    pub fn from_cursor(system: &str, cursor: &str, count: u64) -> Result<Self, AdapterError> {
        match cursor.parse::<u64>() {
            Ok(start_index) if start_index >= 1 => Ok(Self { start_index, count }),
            _ => Err(bad_cursor(system, cursor)),
        }
    }
}

/// A position in a Jira offset list: `startAt` is **0-based**, `maxResults` the page
/// size asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPage {
    /// The 0-based offset of the first item.
    pub start_at: u64,
    /// How many items to ask for.
    pub max_results: u64,
}

impl OffsetPage {
    /// The first page of `max_results` items.
    pub fn first(max_results: u64) -> Self {
        Self {
            start_at: 0,
            max_results,
        }
    }

    /// The query parameters of this page.
    pub fn query(&self) -> [(&'static str, String); 2] {
        [
            ("startAt", self.start_at.to_string()),
            ("maxResults", self.max_results.to_string()),
        ]
    }

    /// The page after this one. A page bean's `isLast: true` ends it, as does `total`
    /// reached or an empty page. Jira's bare-array endpoints (`/users/search`) can
    /// return fewer items than asked before the end (they filter after paging), so a
    /// short page is not the end: only an empty one is (one request more).
    pub fn next(&self, is_last: Option<bool>, total: Option<u64>, returned: usize) -> Option<Self> {
        let returned = returned as u64;
        if is_last == Some(true) || returned == 0 {
            return None;
        }
        let start_at = self.start_at + returned;
        if total.is_some_and(|t| start_at >= t) {
            return None;
        }
        Some(Self {
            start_at,
            max_results: self.max_results,
        })
    }

    /// The page as a cursor string (its offset).
    pub fn to_cursor(&self) -> String {
        self.start_at.to_string()
    }

    /// A cursor made by [`OffsetPage::to_cursor`]; anything else is `Invalid` naming
    /// `system`.
    pub fn from_cursor(system: &str, cursor: &str, max_results: u64) -> Result<Self, AdapterError> {
        cursor
            .parse::<u64>()
            .map(|start_at| Self {
                start_at,
                max_results,
            })
            .map_err(|_| bad_cursor(system, cursor))
    }
}

fn bad_cursor(system: &str, cursor: &str) -> AdapterError {
    AdapterError::Invalid {
        error: SystemError::message(format!("not a {system} page cursor: {cursor:?}")),
    }
}

/// The error for a cursor the server gave twice: it names the system, and is
/// permanent (reading on would loop forever).
pub fn repeated_cursor(system: &str, cursor: &str) -> AdapterError {
    let shown: String = cursor.chars().take(120).collect();
    AdapterError::Permanent {
        error: SystemError::message(format!(
            "{system} gave the same next-page cursor again ({shown}): stopped instead of reading the same page forever"
        )),
    }
}

/// The `next` of a page read with `current`: an error when the server handed back the
/// cursor it was asked with.
pub fn next_cursor(
    system: &str,
    current: Option<&str>,
    next: Option<String>,
) -> Result<Option<String>, AdapterError> {
    match next {
        Some(n) if Some(n.as_str()) == current => Err(repeated_cursor(system, &n)),
        other => Ok(other),
    }
}

/// Remembers every cursor of one walk through a list; a cursor seen before is an
/// error naming the system. For adapters that drain a list themselves (a name lookup
/// over pages).
#[derive(Debug)]
pub struct CursorGuard {
    system: String,
    seen: HashSet<String>,
}

impl CursorGuard {
    /// A guard for one walk through one of `system`'s lists.
    pub fn new(system: impl Into<String>) -> Self {
        Self {
            system: system.into(),
            seen: HashSet::new(),
        }
    }

    /// Records `cursor`; an error when it was seen before in this walk.
    pub fn visit(&mut self, cursor: &str) -> Result<(), AdapterError> {
        if self.seen.insert(cursor.to_owned()) {
            Ok(())
        } else {
            Err(repeated_cursor(&self.system, cursor))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn links(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::LINK, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn link_next_is_copied_verbatim() {
        let h = links(&[
            "<https://a.okta.com/api/v1/users?limit=200>; rel=\"self\"",
            "<https://a.okta.com/api/v1/users?after=00u%2Fopaque&limit=200>; rel=\"next\"",
        ]);
        assert_eq!(
            next_link(&h).unwrap().as_str(),
            "https://a.okta.com/api/v1/users?after=00u%2Fopaque&limit=200"
        );
        let one =
            links(&["<https://a/x?after=1>; rel=\"self\", <https://a/x?after=2>; rel=\"next\""]);
        assert_eq!(next_link(&one).unwrap().as_str(), "https://a/x?after=2");
        let none = links(&["<https://a/x>; rel=\"self\""]);
        assert!(next_link(&none).is_none());
        assert!(next_link(&HeaderMap::new()).is_none());
    }

    #[test]
    fn link_with_commas_in_the_url_and_rel_lists() {
        // GitHub/GitLab style, a comma inside the URL, rel unquoted, and a rel list.
        let h = links(&[
            "<https://g.example.com/api/v4/users?ids=1,2&page=1>; rel=prev, <https://g.example.com/api/v4/users?ids=1,2&page=3>; rel=\"next last\"",
        ]);
        assert_eq!(
            next_link(&h).unwrap().as_str(),
            "https://g.example.com/api/v4/users?ids=1,2&page=3"
        );
    }

    #[test]
    fn page_tokens_and_gitlab_next_page() {
        assert_eq!(next_page_token(Some("abc".into())), Some("abc".into()));
        assert_eq!(next_page_token(Some(String::new())), None);
        assert_eq!(next_page_token(None), None);
        let mut h = HeaderMap::new();
        h.insert("x-next-page", HeaderValue::from_static("3"));
        assert_eq!(next_page_header(&h), Some(3));
        h.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(next_page_header(&h), None);
    }

    #[test]
    fn scim_pages_are_one_based_and_end_by_total() {
        let p = ScimPage::first(100);
        assert_eq!(p.query()[0], ("startIndex", "1".to_owned()));
        // 250 in all, the server returns 100 a page.
        let p2 = p.next(250, 100).unwrap();
        assert_eq!(p2.start_index, 101);
        let p3 = p2.next(250, 100).unwrap();
        assert_eq!(p3.start_index, 201);
        assert_eq!(p3.next(250, 50), None);
        // The server returned fewer than asked: the next page starts after what came.
        assert_eq!(p.next(250, 40).unwrap().start_index, 41);
        // An empty page ends it even when the total says otherwise.
        assert_eq!(p.next(250, 0), None);
        assert_eq!(
            ScimPage::from_cursor("Slack", &p2.to_cursor(), 100).unwrap(),
            p2
        );
        let e = ScimPage::from_cursor("Slack", "0", 100).unwrap_err();
        assert!(e.to_string().contains("Slack"), "{e}");
    }

    #[test]
    fn jira_pages_end_on_is_last_total_or_empty() {
        let p = OffsetPage::first(50);
        assert_eq!(p.query()[0], ("startAt", "0".to_owned()));
        assert_eq!(p.next(Some(false), Some(120), 50).unwrap().start_at, 50);
        assert_eq!(p.next(Some(true), Some(120), 50), None);
        assert_eq!(
            OffsetPage {
                start_at: 100,
                max_results: 50
            }
            .next(None, Some(120), 20),
            None
        );
        // A bare array: a short page is not the end, an empty one is.
        assert_eq!(p.next(None, None, 37).unwrap().start_at, 37);
        assert_eq!(p.next(None, None, 0), None);
        assert!(OffsetPage::from_cursor("Jira", "x", 50).is_err());
    }

    #[test]
    fn a_repeated_cursor_is_an_error_naming_the_system() {
        assert_eq!(
            next_cursor("Google", Some("a"), Some("b".into())).unwrap(),
            Some("b".into())
        );
        assert_eq!(next_cursor("Google", Some("a"), None).unwrap(), None);
        let e = next_cursor("Google", Some("a"), Some("a".into())).unwrap_err();
        assert_eq!(e.class(), "permanent");
        assert!(e.to_string().contains("Google"), "{e}");

        let mut guard = CursorGuard::new("GitLab");
        guard.visit("p2").unwrap();
        guard.visit("p3").unwrap();
        let e = guard.visit("p2").unwrap_err();
        assert!(e.to_string().contains("GitLab"), "{e}");
    }
}
